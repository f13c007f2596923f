// /status in a real warren (gated, the turn loop, a real coordinator container with the scripted harness): while the
// coordinator is inside a long turn, the gateway answers /status in chat and on the REST route itself, with the
// coordinator's state and container; a sender the chat does not let through gets nothing; `warren workers` shows the
// live coordinator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_REACHING } from '../../../gateway/channels/commands.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import { readOperatorToken } from '../../../gateway/operator-token.js';
import type { Warren } from '../../../gateway/warren.js';
import { warrenAsync } from '../../helpers/cli.js';
import { startWarren, waitForOutbox } from '../../helpers/warren.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { eventually } from '../../helpers/wait.js';
import { memoryFactory, type MemoryAdapter } from '../channels/memory-adapter.js';

const DESK = `---
harness: script
always_on: true
idle_timeout: 600
script:
  - match: "^build (.*)$"
    work: { hold_ms: 8000 }
    reply: "built: $1"
  - match: ".*"
    reply: "echo: $0"
channels:
  - { chat: "tg:-1", engage: always, unknown: public }
  - { chat: "tg:-2", engage: always, senders: ["tg:5"] }
---
The desk.
`;

describe('/status while a coordinator is busy', () => {
  let tree: TempTree;
  let warren: Warren;
  let tg: MemoryAdapter;
  const memory = memoryFactory('tg', 'world');

  beforeAll(async () => {
    tree = tempTree({ 'acme/PERSONA.md': DESK, 'globex/PERSONA.md': DESK.replace(/channels:[\s\S]*?---/, '---') });
    warren = await startWarren(tree, {
      adapterFactories: [memory.factory],
      credentialFor: (_world, name) => (name === 'memory' ? 'the-bot-token' : null),
    });
    tg = memory.made.find((a) => a.identity.world === 'acme')!;
  }, 180_000);
  afterAll(async () => {
    await warren?.stop();
    tree?.cleanup();
  });

  const status = async (tenant: string) => {
    const res = await fetch(`${warren.url}/v1/tenants/${tenant}/status`, { headers: { authorization: `Bearer ${readOperatorToken(tree.data)}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as any;
  };
  const ask = (chat: string, sender: string) =>
    tg.receive({ chat, text: '/status', sender: { id: sender }, command: { name: '/status', args: '' } });

  it('answers from the gateway mid-turn: in chat and on the REST route, with the coordinator inside its turn', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme', text: 'warm up', sender: 'ann' });
    await waitForOutbox(warren, 'acme', (r) => r.text === 'echo: warm up');
    // The reply is committed before the runner asks for its next turn: idle a moment later.
    await eventually(async () => (await status('acme')).coordinator?.state === 'waiting', 'the coordinator idle at a boundary');
    expect((await status('acme')).coordinator).toMatchObject({ state: 'waiting', busy_with: null });

    expect(await tg.receive({ chat: 'tg:-1', text: 'build the site', sender: { id: 'tg:9' } })).toMatchObject({ kind: 'stored' });
    const busy = await eventually(async () => {
      const s = await status('acme');
      return s.coordinator?.state === 'busy' && s.turns[0]?.last_line ? s : null;
    }, 'the coordinator inside the build turn, with a line of output', 60_000);
    expect(busy.coordinator.container).toMatch(/^warren-/);
    expect(busy.turns).toEqual([expect.objectContaining({ run: busy.coordinator.busy_with, topic: expect.any(String) })]);
    // A second message waits for the turn boundary; /status says so, and is not itself queued.
    await tg.receive({ chat: 'tg:-1', text: 'are you there?', sender: { id: 'tg:9' } });
    const reply = await ask('tg:-1', 'tg:9');
    expect(reply).toEqual({ kind: 'handled', reply: expect.stringMatching(/^acme: coordinator in a turn for \d+s; 1 message waiting\n {2}> \S/) });
    expect((await status('acme')).waiting).toBe(1);
    // The turn is still running: the answer did not wait for it.
    expect(warren.outbox.list('acme', { limit: 100 }).some((r) => r.text === 'built: the site')).toBe(false);
    await waitForOutbox(warren, 'acme', (r) => r.text === 'built: the site');
    await waitForOutbox(warren, 'acme', (r) => r.text === 'echo: are you there?');
  }, 120_000);

  it("tells a sender the chat does not let through nothing of the tenant's work; a listed sender gets it", async () => {
    expect(await ask('tg:-2', 'tg:9')).toEqual({ kind: 'handled', reply: NOT_REACHING });
    expect(await ask('tg:-2', 'tg:5')).toEqual({ kind: 'handled', reply: expect.stringMatching(/^acme: coordinator /) });
  });

  it('warren workers lists the live coordinator from the running gateway, and only within the subtree asked', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'globex', text: 'hello', sender: 'ann' });
    await waitForOutbox(warren, 'globex', (r) => r.text === 'echo: hello');
    await eventually(async () => (await status('globex')).coordinator?.state === 'waiting', 'globex idle at a boundary');
    await eventually(async () => (await status('acme')).coordinator?.state === 'waiting', 'acme idle at a boundary');
    const all = await warrenAsync(['workers', '--json', '--tenants', tree.tenants, '--data', tree.data]);
    expect(all.stderr).toBe('');
    const listing = JSON.parse(all.stdout);
    expect(listing.coordinators.source).toBe('gateway');
    expect(listing.coordinators.items.map((c: { tenant: string; state: string }) => [c.tenant, c.state])).toEqual([
      ['acme', 'waiting'],
      ['globex', 'waiting'],
    ]);
    expect(listing.coordinators.items[0].container).toMatch(/^warren-/);
    const acme = await warrenAsync(['workers', 'acme', '--tenants', tree.tenants, '--data', tree.data]);
    expect(acme.stdout).toMatch(new RegExp(`^coordinators \\(the running gateway on ${tree.data}, live\\):\n {2}acme +waiting `));
    expect(acme.stdout).not.toMatch(/globex/);
  }, 120_000);
});
