// Channels in a real `warren up` (gated, the turn loop, real containers with the scripted harness): an in-memory
// platform's messages reach the wired tenant's conversation, and each reply is delivered once, to its own chat.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdapterFactory } from '../../../gateway/channels/adapter.js';
import { localAdapterFactory } from '../../../gateway/channels/local.js';
import type { Warren } from '../../../gateway/warren.js';
import { readOperatorToken } from '../../../gateway/operator-token.js';
import { startWarren } from '../../helpers/warren.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { eventually } from '../../helpers/wait.js';
import { memoryFactory, type MemoryAdapter } from './memory-adapter.js';

const ACME = `---
name: acme
harness: script
script:
  - match: "^(.*)$"
    reply: "echo: $1"
channels:
  - { chat: "tg:-1", engage: always, unknown: public }
  - { chat: "tg:-2", engage: mention, others: accumulate, unknown: public }
  - { chat: "local:ops" }
---
The acme world.
`;

const broken: AdapterFactory = {
  prefix: 'broken',
  scope: 'installation',
  create: () => {
    throw new Error('no such platform here');
  },
};

describe('channels in warren up', () => {
  let tree: TempTree;
  let warren: Warren;
  let tg: MemoryAdapter;
  const memory = memoryFactory('tg', 'world');

  beforeAll(async () => {
    tree = tempTree({ 'acme/PERSONA.md': ACME, 'globex/': '' });
    warren = await startWarren(tree, {
      adapterFactories: [localAdapterFactory, memory.factory, broken],
      credentialFor: (world, name) => (world === 'acme' && name === 'memory' ? 'the-bot-token' : null),
    });
    tg = memory.made[0]!;
  }, 180_000);
  afterAll(async () => {
    await warren?.stop();
    tree.cleanup();
  });

  it('makes world-scoped adapters only for worlds with the credential; one that cannot start leaves warren up', () => {
    expect(memory.made.map((a) => a.identity)).toEqual([{ prefix: 'tg', world: 'acme' }]);
    expect(warren.channels!.reports().map((r) => [r.prefix, r.world, r.state, r.error])).toEqual([
      ['local', null, 'connected', null],
      ['tg', 'acme', 'connected', null],
      ['broken', null, 'error', 'could not start: no such platform here'],
    ]);
  });

  it('two chats, one tenant: each reply goes to its own chat, once, threaded to the message it answers', async () => {
    expect(await tg.receive({ chat: 'tg:-1', text: 'one', platformMessageId: '101' })).toMatchObject({ kind: 'stored' });
    expect(await tg.receive({ chat: 'tg:-2', text: 'context only' })).toMatchObject({ kind: 'accumulated' });
    expect(await tg.receive({ chat: 'tg:-2', text: '@acme two', mentioned: true, platformMessageId: '201' })).toMatchObject({ kind: 'stored' });
    await eventually(() => tg.delivered.length >= 2, 'two replies delivered', 120_000);
    await new Promise((r) => setTimeout(r, 300)); // nothing more comes
    const byChat = tg.delivered.map((d) => [d.chat, d.text, d.replyTo]).sort();
    expect(byChat).toEqual([
      ['tg:-1', 'echo: one', '101'],
      // The accumulated message came with the engaged one as context (the scripted harness echoes each message).
      ['tg:-2', 'echo: context only\necho: @acme two', '201'],
    ]);
  }, 150_000);

  it('shows the delivery state of each row over the HTTP API', async () => {
    const res = await fetch(`${warren.url}/v1/messages?tenant=acme`, { headers: { authorization: `Bearer ${readOperatorToken(tree.data)}` } });
    const { messages } = (await res.json()) as { messages: Record<string, unknown>[] };
    expect(messages.map((m) => [m.chat, m.delivery_state, m.delivery_attempts, typeof m.delivered_at, typeof m.platform_message_id]).sort()).toEqual([
      ['tg:-1', 'delivered', 1, 'string', 'string'],
      ['tg:-2', 'delivered', 1, 'string', 'string'],
    ]);
  });

  it('a local chat (warren send / warren chat) is delivered by being recorded as delivered', async () => {
    const res = await fetch(`${warren.url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${readOperatorToken(tree.data)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'acme', text: 'hi from the terminal', sender: 'ops' }),
    });
    expect(res.status).toBe(202);
    const row = await eventually(
      () => warren.outbox.list('acme', { limit: 100 }).find((r) => r.chat === 'local:ops' && r.delivery_state === 'delivered'),
      'the local reply delivered',
      120_000,
    );
    expect(row.text).toBe('echo: hi from the terminal');
  }, 150_000);
});
