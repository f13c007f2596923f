// `warren chat <tenant>`: an interactive terminal chat through the running gateway. Lines you type are sent; replies
// stream back as they are committed.
import { createInterface } from 'node:readline';
import { parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { findGateway } from './client.js';

const command: Command = {
  summary: 'chat with a tenant in the terminal (needs warren up)',
  usage: `Usage: warren chat <tenant> [--topic T] [--sender NAME]

Type a line and press enter to send it; replies appear as they arrive. Ctrl-D or /quit ends the chat.`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { topic: { type: 'string' }, sender: { type: 'string' } });
    if (positionals.length !== 1) throw new UsageError('give one tenant');
    const tenant = parseTenantPath(positionals[0]!);
    const sender = values.sender ?? process.env.USER ?? 'operator';
    const ownChat = `local:${sender}`.toLowerCase();
    const gateway = await findGateway(common.data);
    if (!gateway) throw new Error('warren is not running here (start it with "npm start" or "warren up")');

    const abort = new AbortController();
    const res = await fetch(`${gateway.url}/v1/stream?tenant=${encodeURIComponent(tenant)}`, {
      headers: { authorization: `Bearer ${gateway.token}` },
      signal: abort.signal,
    });
    if (!res.ok || !res.body) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
    let pending = 0;
    let ending = false;
    let finish: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const maybeFinish = () => {
      if (ending && pending === 0) finish();
    };
    const print = (line: string) => process.stdout.write(line + '\n');

    void (async () => {
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += Buffer.from(chunk).toString('utf8');
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const event = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = event.split('\n').find((l) => l.startsWith('data: '));
            if (!data) continue;
            const row = JSON.parse(data.slice(6));
            if (row.chat !== ownChat) continue; // this conversation only
            print(`${tenant}> ${row.text ?? row.reaction ?? row.file_path ?? ''}`);
            if (row.kind === 'reply' && row.chat === ownChat && pending > 0) pending--;
            maybeFinish();
          }
        }
      } catch {
        // aborted on exit
      }
    })();

    const rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
    for await (const line of rl) {
      const text = line.trim();
      if (!text) continue;
      if (text === '/quit') break;
      const r = await gateway.request('POST', '/v1/messages', { tenant, text, topic: values.topic, sender });
      if (r.status !== 202) print(`! ${r.body?.error ?? r.status}`);
      else pending++;
    }
    // Input ended: wait for the replies still owed (bounded), then leave.
    ending = true;
    maybeFinish();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((r) => (timer = setTimeout(r, 120_000)))]);
    clearTimeout(timer);
    abort.abort();
    return 0;
  },
};
export default command;
