// Channels in a real `warren up` (gated, the turn loop, real containers with the scripted harness): an in-memory
// platform's messages reach the wired tenant's conversation, and each reply is delivered once, to its own chat.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { agentImage } from '../../helpers/docker.js';
import { warrenAsync } from '../../helpers/cli.js';
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

  it('warren channels shows the running adapters and their state', async () => {
    const r = await warrenAsync(['channels', '--json', '--tenants', tree.tenants, '--data', tree.data]);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout);
    expect(report.running).toBe(true);
    expect(report.adapters.map((a: { prefix: string; world: string | null; state: string }) => [a.prefix, a.world, a.state])).toEqual([
      ['local', null, 'connected'],
      ['tg', 'acme', 'connected'],
      ['broken', null, 'error'],
    ]);
    expect(report.wired.map((w: { chat: string }) => w.chat)).toEqual(['tg:-1', 'tg:-2', 'local:ops']);
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

const DIST = fileURLToPath(new URL('../../../dist/', import.meta.url));

/**
 * `warren up` in a child process with a platform that writes down every message it receives (before answering) and
 * stops answering at the second: the test kills it with SIGKILL there, mid-delivery.
 */
const CHILD = `
import { appendFileSync } from 'node:fs';
const { startWarren } = await import(process.env.DIST + 'cli/start-warren.js');
const { silentLogger } = await import(process.env.DIST + 'core/log.js');
let received = 0;
const platform = {
  prefix: 'tg', scope: 'installation',
  create: () => ({
    identity: { prefix: 'tg', world: null },
    async start() {},
    async deliver(item) {
      appendFileSync(process.env.PLATFORM_LOG, JSON.stringify({ id: item.id, text: item.text }) + '\\n');
      if (++received >= 2) await new Promise(() => {}); // the platform took it; warren dies before hearing back
      return { ok: true, platformMessageId: 'p' + item.id };
    },
    status: () => ({ state: 'connected', error: null, since: '' }),
    async stop() {},
  }),
};
await startWarren({ tenantsDir: process.env.TENANTS, dataDir: process.env.DATA, log: silentLogger(), adapterFactories: [platform] });
process.stdout.write('up\\n');
`;

describe('kill -9 of warren up in the middle of a delivery', () => {
  it('loses nothing, and sends again only the row that was in flight (the documented window)', async () => {
    const tree = tempTree({ 'acme/PERSONA.md': '---\nname: acme\n---\n' });
    try {
      const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
      const store = new GatedStore(db);
      const ids = ['r1', 'r2', 'r3'].map((text) => store.addOutbox({ tenant: 'acme', topic: 'main', kind: 'message', chat: 'tg:-1', text }));
      db.close();
      const platformLog = join(tree.root, 'platform.log');
      const script = join(tree.root, 'child.mjs');
      writeFileSync(script, CHILD);
      const image = await agentImage();
      const child = spawn(process.execPath, [script], {
        env: {
          ...process.env, DIST, PLATFORM_LOG: platformLog, TENANTS: tree.tenants, DATA: tree.data,
          WARREN_HTTP_PORT: '0', WARREN_WEB_PORT: '0', WARREN_AGENT_IMAGE: image.tag, WARREN_INSTANCE: `test-kill-${process.pid}`, WARREN_LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((r) => child.once('exit', r));
      await eventually(() => existsSync(platformLog) && readFileSync(platformLog, 'utf8').split('\n').length > 2, 'two rows at the platform', 120_000);
      child.kill('SIGKILL');
      await exited;
      const before = readFileSync(platformLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l).text);
      expect(before).toEqual(['r1', 'r2']);

      const memory = memoryFactory('tg');
      const again = await startWarren(tree, { adapterFactories: [memory.factory] });
      try {
        await eventually(() => memory.made[0]!.delivered.length >= 2, 'the rest delivered after the restart', 60_000);
        await new Promise((r) => setTimeout(r, 300));
        // r1 was recorded as delivered: never again. r2 was in flight: sent again (at-least-once). r3: once.
        expect(memory.made[0]!.delivered.map((d) => d.text)).toEqual(['r2', 'r3']);
        const rows = again.outbox.list('acme');
        expect(rows.map((r) => [r.id, r.delivery_state])).toEqual(ids.map((id) => [id, 'delivered']));
        expect(rows[0]!.platform_message_id).toBe(`p${ids[0]}`);
      } finally {
        await again.stop();
      }
    } finally {
      tree.cleanup();
    }
  }, 240_000);
});
