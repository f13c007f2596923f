// End to end with real Docker: message -> container -> tool calls over the run socket -> reply stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Warren } from '../../gateway/warren.js';
import { acceptMessage } from '../../gateway/inbound.js';
import { containersWithLabel } from '../helpers/docker.js';
import { startWarren, waitForOutbox } from '../helpers/warren.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

const ACME = `---
name: acme
harness: script
script:
  - match: "^ask (\\\\S+) (.*)$"
    calls:
      - tool: delegate_group
        args: { group: "$1", prompt: "$2" }
    reply: "asked $1"
  - match: "^result from (\\\\S+) \\\\((dlg_[^)]+)\\\\): (.*)$"
    reply: "heard back from $1: $3"
  - match: "^say (.*)$"
    calls:
      - tool: reply
        args: { text: "$1" }
    reply: "said it"
  - match: "^who$"
    calls:
      - tool: whoami
        args: {}
    reply: "{{result}}"
  - match: "^(.*)$"
    reply: "echo: $1"
---
The acme world.
`;

const SUPPORT = `---
name: support
harness: script
script:
  - match: "^make (\\\\S+)$"
    calls:
      - tool: create_group
        args: { name: "$1" }
    reply: "create_group said: {{result}}"
  - match: "^(.*)$"
    reply: "support handled: $1"
---
Support team.
`;

describe('warren end to end (real containers)', () => {
  let tree: TempTree;
  let warren: Warren;
  const send = (tenant: string, text: string) =>
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text, sender: 'ann' });

  beforeAll(async () => {
    tree = tempTree({ 'root/PERSONA.md': '---\nname: root\n---\nroot\n', 'acme/PERSONA.md': ACME, 'acme/support/PERSONA.md': SUPPORT });
    warren = await startWarren(tree);
  });
  afterAll(async () => {
    await warren?.stop();
    tree.cleanup();
  });

  it('delivers one message when the agent replied itself: its final answer does not follow', async () => {
    const { id } = send('acme', 'say on my way');
    warren.loop.wake();
    await waitForOutbox(warren, 'acme', (r) => r.text === 'on my way');
    const run = await eventually(
      () => warren.db.prepare(`SELECT r.id, r.status FROM runs r JOIN messages m ON m.run = r.id WHERE m.id = ? AND r.status = 'done'`).get(id) as any,
      'run done',
    );
    const sent = warren.db.prepare('SELECT kind, chat, text FROM outbox WHERE run = ? ORDER BY id').all(run.id);
    expect(sent).toEqual([{ kind: 'reply', chat: 'local:ann', text: 'on my way' }]);
  });

  it('answers a message from inside a container and stores the reply', async () => {
    const { id } = send('acme', 'hello there');
    warren.loop.wake();
    const reply = await waitForOutbox(warren, 'acme', (r) => r.text === 'echo: hello there');
    expect(reply.chat).toBe('local:ann');
    expect(reply.kind).toBe('reply');
    const run = warren.db.prepare('SELECT r.* FROM runs r JOIN messages m ON m.run = r.id WHERE m.id = ?').get(id) as any;
    expect(run.status).toBe('done');
    // The reply is committed when the runner reports; the container id is recorded once Docker has removed it.
    const container = await eventually(
      () => (warren.db.prepare('SELECT container FROM runs WHERE id = ?').get(run.id) as any).container as string | null,
      'container id recorded',
    );
    expect(container).toMatch(/^[0-9a-f]{64}$/);
  });

  it('makes real MCP calls over the run socket, audited under the run', async () => {
    send('acme', 'who');
    const reply = await waitForOutbox(warren, 'acme', (r) => (r.text ?? '').includes('"tenant":"acme"'));
    const who = JSON.parse(reply.text!);
    expect(who.run).toMatch(/^run_/);
    const audit = warren.gated.audit.db.prepare(`SELECT * FROM audit WHERE run = ? AND tool = 'whoami'`).get(who.run) as any;
    expect(audit.decision).toBe('allow');
  });

  it("refuses a tier-2 tenant's denied call and the agent sees why", async () => {
    send('acme/support', 'make newteam');
    const reply = await waitForOutbox(warren, 'acme/support', (r) => (r.text ?? '').startsWith('create_group said:'));
    expect(reply.text).toMatch(/denied: /);
    expect(reply.text).toMatch(/escalate_group/);
    const denied = warren.gated.audit.query({ tenant: 'acme/support', denied: true });
    expect(denied.map((r) => r.tool)).toContain('create_group');
  });

  it('delegation wakes the child and carries its result back to the parent', async () => {
    send('acme', 'ask acme/support check the printer');
    await waitForOutbox(warren, 'acme', (r) => r.text === 'asked acme/support');
    await waitForOutbox(warren, 'acme', (r) => r.text === 'heard back from acme/support: support handled: check the printer');
    const d = warren.db.prepare(`SELECT * FROM delegations WHERE to_tenant = 'acme/support'`).get() as any;
    expect(d.status).toBe('done');
  });

  it('leaves no container behind', async () => {
    await new Promise((r) => setTimeout(r, 500));
    expect(await containersWithLabel(`warren.instance=${warren.config.instance}`)).toEqual([]);
  });
});

describe('delegation loops end at the depth cap', () => {
  let tree: TempTree;
  let warren: Warren;
  beforeAll(async () => {
    tree = tempTree({
      // ping hands everything (including pong's answers) straight back down: an endless ping-pong without the cap.
      'ping/PERSONA.md': `---\nharness: script\nscript:\n  - match: ".*"\n    calls:\n      - tool: delegate_group\n        args: { group: ping/pong, prompt: "{{text}}" }\n    reply: "{{result}}"\n---\n`,
      'ping/pong/PERSONA.md': `---\nharness: script\nscript:\n  - match: ".*"\n    reply: "pong"\n---\n`,
    });
    warren = await startWarren(tree);
  });
  afterAll(async () => {
    await warren.stop();
    tree.cleanup();
  });

  it('a result keeps the depth of the work it answers, so ping-pong stops at the cap', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'ping', text: 'serve', sender: 'ann' });
    warren.loop.wake();
    const last = await waitForOutbox(warren, 'ping', (r) => /depth limit reached \(3\)/.test(r.text ?? ''));
    expect(last.chat).toBe('local:ann');
    const delegations = warren.db.prepare(`SELECT depth FROM delegations ORDER BY created_at`).all();
    expect(delegations).toEqual([{ depth: 1 }, { depth: 2 }, { depth: 3 }]);
  });
});
