// The newcomer's path of docs/channels.md ("Wire the example world"), for real: a copy of the example tree, the
// doc's own `channels:` lines added to acme's PERSONA.md, the commands the doc names run with the built CLI, `warren
// up` as a process with Telegram pointed at the Bot API stand-in. A Telegram DM, a webhook POST and a web chat
// message each reach acme, and each reply is delivered once, to the place its message came from.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOperatorToken } from '../../../gateway/operator-token.js';
import type { OutboxRow } from '../../../gateway/outbox-view.js';
import { startTelegramStandIn, type TelegramStandIn } from '../../../bench/telegram-stand-in.js';
import { warren as cli } from '../../helpers/cli.js';
import { agentImage } from '../../helpers/docker.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { startUp, type UpProcess } from '../../helpers/up.js';
import { eventually } from '../../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TOKEN = '123456789:AAHwalkthrough-token-for-the-stand-in_0123';
const OPENING_HOURS = 'We are open Monday to Friday, 9:00-17:30 (UK time).';
const FALLBACK = 'Thanks for getting in touch with Acme.';

/** The first yaml block of the doc's "Wire the example world" section: what the newcomer pastes. */
function docChannelsYaml(): string {
  const doc = readFileSync(join(REPO, 'docs', 'channels.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Wire the example world'));
  const block = /```yaml\n([\s\S]*?)\n\s*```/.exec(section)![1]!;
  const indent = /^ */.exec(block)![0]!.length;
  return block.split('\n').map((l) => l.slice(indent)).join('\n') + '\n';
}

describe('wiring the example world to Telegram, a webhook and a web chat, as docs/channels.md says', () => {
  let tree: TempTree;
  let stand: TelegramStandIn;
  let up: UpProcess;
  const run = (args: string[], input?: string) => cli([...args, '--tenants', tree.tenants, '--data', tree.data], { input });

  beforeAll(async () => {
    tree = tempTree();
    cpSync(join(REPO, 'tenants'), tree.tenants, { recursive: true });
    const persona = join(tree.tenants, 'acme', 'PERSONA.md');
    writeFileSync(persona, readFileSync(persona, 'utf8').replace(/^---\n/, `---\n${docChannelsYaml()}`));
    stand = await startTelegramStandIn({ token: TOKEN });
    expect(run(['secrets', 'init']).status).toBe(0);
    const token = run(['channels', 'token', 'acme', 'telegram'], TOKEN);
    expect(token.stderr).toBe('');
    expect(token.status).toBe(0);
    up = await startUp(tree, { WARREN_TELEGRAM_API_ROOT: stand.apiRoot, WARREN_AGENT_IMAGE: (await agentImage()).tag });
  }, 180_000);

  afterAll(async () => {
    await up?.stop();
    await stand?.close();
    tree?.cleanup();
  });

  it('each message reaches acme and each reply goes back once, to where it came from', async () => {
    const routes = run(['routes']);
    expect(routes.status).toBe(0);
    for (const chat of ['tg:5551234', 'hook:deploys', 'web:help']) expect(routes.stdout).toContain(chat);
    let channels = '';
    await eventually(() => {
      channels = run(['channels']).stdout;
      return /^ {2}tg +acme +connected/m.test(channels);
    }, 'acme\'s bot connected in "warren channels"', 60_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}; last output:\n${channels}\n${up.stderr().slice(-2000)}`);
    });
    for (const chat of ['tg:5551234', 'hook:deploys', 'web:help']) expect(channels).toMatch(new RegExp(`^ {2}${chat} +-> acme `, 'm'));

    const hook = run(['hooks', 'issue', 'acme', 'deploys']);
    expect(hook.status).toBe(0);
    const hookUrl = /^POST (http:\/\/\S+\/hook\/wrn_\S+)$/m.exec(hook.stdout)![1]!;
    const link = run(['chatlinks', 'issue', 'acme', 'help']);
    expect(link.status).toBe(0);
    const linkUrl = /^(http:\/\/\S+\/chat\/wrn_\S+)$/m.exec(link.stdout)![1]!;
    expect(new URL(hookUrl).origin).toBe(up.url);
    expect(new URL(linkUrl).origin).toBe(up.url);

    // Telegram: a DM from the wired sender.
    stand.push({
      message: { message_id: 1, date: Math.floor(Date.now() / 1000), chat: { id: 5551234, type: 'private' }, from: { id: 5551234, is_bot: false, first_name: 'Ada' }, text: 'are you open today?' },
    });
    // The webhook.
    const posted = await fetch(hookUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'deploy failed on main' });
    expect(posted.status).toBe(202);
    // The web chat: open the link as a browser does, send, and read the reply off the page's stream.
    const opened = await fetch(linkUrl, { redirect: 'manual' });
    expect(opened.status).toBe(303);
    const cookie = opened.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = /data-csrf="([^"]+)"/.exec(await (await fetch(`${up.url}/chat/`, { headers: { cookie } })).text())![1]!;
    const sent = await fetch(`${up.url}/chat/send`, {
      method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ text: 'what are your opening hours?' }),
    });
    expect(sent.status).toBeLessThan(300);
    const controller = new AbortController();
    const events = await fetch(`${up.url}/chat/events`, { headers: { cookie }, signal: controller.signal });
    let stream = '';
    const reader = events.body!.getReader();
    while (!/event: reply\n[\s\S]*?\n\n/.test(stream)) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the page's stream ended without a reply:\n${stream}`);
      stream += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(stream).toContain(OPENING_HOURS);

    // Every reply stored on its own chat and delivered (the webhook's to nowhere: it has no way back).
    const operator = readOperatorToken(tree.data);
    const rows = await eventually(async () => {
      const res = await fetch(`${up.url}/v1/messages?tenant=acme`, { headers: { authorization: `Bearer ${operator}` } });
      const { messages } = (await res.json()) as { messages: OutboxRow[] };
      return messages.length >= 3 && messages.every((m) => m.delivery_state === 'delivered') && messages;
    }, 'three replies delivered', 120_000);
    expect(rows.map((r) => [r.chat, r.text]).sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual([
      ['hook:deploys', expect.stringContaining(FALLBACK)],
      ['tg:5551234', OPENING_HOURS],
      ['web:help', OPENING_HOURS],
    ]);

    // Telegram got exactly one message: the DM's reply, in the DM. Nothing of the other chats leaked to it.
    await new Promise((r) => setTimeout(r, 500));
    const sends = stand.callsOf('sendMessage').map((c) => [String(c.params.chat_id), c.params.text]);
    expect(sends).toEqual([['5551234', OPENING_HOURS]]);
  }, 240_000);
});
