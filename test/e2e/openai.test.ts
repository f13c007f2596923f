// The openai harness as a warren agent, end to end: in the plain agent image, run by the gateway, talking to a Chat
// Completions stand-in (non-streamed JSON, tool_calls with ids) the way production reaches an operator's endpoint —
// a name found through crackbox's DNS, the tenant's allowlist entry, crackbox's proxy; the key a sealed secret.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptMessage } from '../../gateway/inbound.js';
import type { Warren } from '../../gateway/warren.js';
import { FakeUpstream } from '../crackbox/helpers.js';
import { warren as cli } from '../helpers/cli.js';
import { connectClient } from '../helpers/mcp.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';
import { startWarren } from '../helpers/warren.js';

const KEY = `sk-openai-e2e-${Math.random().toString(36).slice(2)}-9c2b7a6e`;
const LLM_HOST = 'llm.e2e-openai.test';
const LLM_PORT = 8000;
const LLM_ADDRESS = `127.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;

type Step = { tool: string; args: unknown } | { text: string } | { status: number; headers?: Record<string, string>; body: unknown };
interface ChatBody {
  model: string;
  messages: { role: string; content: string | null; tool_call_id?: string }[];
  tools?: { function: { name: string } }[];
}

/** Answers each request with the next step scripted for the marker found in its messages. */
class ChatStandIn {
  readonly requests: { auth: string | undefined; body: ChatBody }[] = [];
  private readonly scripts = new Map<string, Step[]>();
  private server!: Server;
  script(marker: string, steps: Step[]): void {
    this.scripts.set(marker, [...steps]);
  }
  with(marker: string): ChatBody[] {
    return this.requests.map((r) => r.body).filter((b) => JSON.stringify(b.messages).includes(marker));
  }
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        const body = JSON.parse(text) as ChatBody;
        this.requests.push({ auth: req.headers.authorization, body });
        const last = JSON.stringify(body.messages.filter((m) => m.role === 'user').at(-1));
        const steps = [...this.scripts.entries()].find(([marker]) => last.includes(marker))?.[1];
        const step = steps?.shift() ?? { status: 500, body: { error: { message: 'nothing scripted' } } };
        if ('status' in step) {
          res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
          return res.end(JSON.stringify(step.body));
        }
        const n = this.requests.length;
        const message =
          'tool' in step
            ? { role: 'assistant', content: null, tool_calls: [{ id: `call_${n}`, type: 'function', function: { name: step.tool, arguments: JSON.stringify(step.args) } }] }
            : { role: 'assistant', content: step.text };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: `chatcmpl-${n}`, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: 'tool' in step ? 'tool_calls' : 'stop' }] }));
      });
    });
    await new Promise<void>((r) => this.server.listen(LLM_PORT, LLM_ADDRESS, () => r()));
    return this;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const BOT = `---
harness: openai
model: qwen2.5-7b-instruct
environment:
  OPENAI_BASE_URL: http://${LLM_HOST}:${LLM_PORT}/v1
  OPENAI_TIMEOUT_S: 20
env: [OPENAI_API_KEY]
---
You are acme's helpdesk.
`;

describe('the openai harness as a warren agent (real Docker, crackbox)', () => {
  let tree: TempTree;
  let warren: Warren;
  let llm: ChatStandIn;
  let dns: FakeUpstream;

  const send = (text: string) => {
    const { id } = acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme/bot', text, sender: 'ann' });
    warren.loop.wake();
    return id;
  };
  const finished = (messageId: number) =>
    eventually(
      () => {
        const run = warren.db.prepare('SELECT r.* FROM runs r JOIN messages m ON m.run = r.id WHERE m.id = ?').get(messageId) as
          | { id: string; status: string; result: string | null; error: string | null }
          | undefined;
        return run && run.status !== 'running' ? run : undefined;
      },
      `the turn of message ${messageId} finishes`,
      90_000,
    );
  const outboxOf = (runId: string) => warren.db.prepare('SELECT kind, chat, text FROM outbox WHERE run = ? ORDER BY id').all(runId);

  beforeAll(async () => {
    tree = tempTree({
      'root/PERSONA.md': '---\nname: root\n---\nroot\n',
      'acme/PERSONA.md': '---\nharness: script\n---\nacme\n',
      'acme/bot/PERSONA.md': BOT,
      'acme/bot/allowlist': `${LLM_HOST}:${LLM_PORT}\n`,
    });
    const common = ['--tenants', tree.tenants, '--data', tree.data];
    expect(cli(['secrets', 'init', ...common]).status).toBe(0);
    expect(cli(['secrets', 'set', 'acme/bot', 'OPENAI_API_KEY', ...common], { input: `${KEY}\n` }).status).toBe(0);
    llm = await new ChatStandIn().start();
    dns = await new FakeUpstream().start();
    dns.records.set(LLM_HOST, [LLM_ADDRESS]);
    warren = await startWarren(tree, {
      env: { WARREN_EGRESS_UPSTREAM: `${dns.host}:${dns.port}`, WARREN_EGRESS_ALLOWED_RANGES: `${LLM_ADDRESS}/32` },
    });
  }, 5 * 60_000);
  afterAll(async () => {
    await warren?.stop();
    await llm?.close();
    await dns?.stop();
    tree?.cleanup();
  });

  it('offers the grant-filtered tools; a reply lands once; a denial reaches the model; the key is a header only', async () => {
    llm.script('case one', [
      { tool: 'reply', args: { text: 'Hi Ann, on it.' } },
      { tool: 'send_message', args: { chat: 'tg:424242', text: 'psst' } },
      { text: 'All done.' },
    ]);
    const id = send('case one: the printer');
    const run = await finished(id);
    expect(run).toMatchObject({ status: 'done' });
    const reqs = llm.with('case one');
    expect(reqs).toHaveLength(3);

    const client = await connectClient(warren.gated.socketPath('acme/bot'));
    const granted = (await client.listTools()).tools.map((t) => t.name);
    await client.close();
    for (const body of reqs) expect(body.tools!.map((t) => t.function.name).sort()).toEqual([...granted].sort());
    expect(reqs[0]!.model).toBe('qwen2.5-7b-instruct');
    expect(reqs[0]!.messages[0]).toMatchObject({ role: 'system', content: expect.stringContaining("You are acme's helpdesk.") });
    expect(reqs[0]!.messages[0]!.content).toContain('<skill name="ralph-loop"');

    const afterReply = reqs[1]!.messages.filter((m) => m.role === 'tool').at(-1)!;
    // The result went back under the id of the call it answers.
    const asked = reqs[1]!.messages.filter((m) => m.role === 'assistant').at(-1) as unknown as { tool_calls: { id: string }[] };
    expect(afterReply.tool_call_id).toBe(asked.tool_calls[0]!.id);
    expect(afterReply.content).toMatch(/queued reply \d+ to local:ann/);
    const afterDenied = reqs[2]!.messages.filter((m) => m.role === 'tool').at(-1)!;
    expect(afterDenied.content).toMatch(/^denied: /);

    expect(outboxOf(run.id)).toEqual([{ kind: 'reply', chat: 'local:ann', text: 'Hi Ann, on it.' }]);
    // Both calls went through gated: the audit log (written by its writer thread) has them.
    const audit = await eventually(() => {
      const rows = warren.gated.audit.db.prepare('SELECT tool, decision FROM audit WHERE run = ? ORDER BY id').all(run.id);
      return rows.length >= 2 ? rows : undefined;
    }, 'the audit rows of the turn');
    expect(audit).toEqual([
      { tool: 'reply', decision: 'allow' },
      { tool: 'send_message', decision: 'deny' },
    ]);
    expect(llm.requests.every((r) => r.auth === `Bearer ${KEY}`)).toBe(true);
    expect(JSON.stringify(llm.requests.map((r) => r.body))).not.toContain(KEY);
  });

  it('resumes the topic’s conversation on the next turn', async () => {
    llm.script('remember order 7', [{ text: 'Noted.' }]);
    await finished(send('remember order 7'));
    llm.script('which order', [{ text: 'Order 7.' }]);
    const run = await finished(send('which order was it?'));
    expect(run).toMatchObject({ status: 'done' });
    const [body] = llm.with('which order');
    const said = body!.messages.map((m) => `${m.role}:${m.content ?? ''}`);
    expect(said.some((m) => m.startsWith('user:') && m.includes('> remember order 7'))).toBe(true);
    expect(said).toContain('assistant:Noted.');
  });

  it.each([
    ['a 429', { status: 429, headers: { 'retry-after': '5' }, body: { error: { message: 'slow down' } } }, /rate limiting \(429\); retry after 5 s/],
    ['a 500', { status: 500, body: { error: { message: 'boom' } } }, /the model endpoint failed \(500\)/],
  ])('%s ends the turn with a clear status', async (label, step, expected) => {
    llm.script(`case ${label}`, [step]);
    const run = await finished(send(`case ${label}`));
    expect(run.status).not.toBe('done');
    expect(`${run.result ?? ''} ${run.error ?? ''}`).toMatch(expected);
  });
});
