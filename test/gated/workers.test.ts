// spawn_worker / list_workers / cancel_worker over real run sockets, and a worker's own socket with the workers' rules:
// what the tools record in the workers table (the gateway's pool acts on it; test/gateway/workers/ runs real ones).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { MAX_SPAWNS_PER_RUN } from '../../gated/tools/workers.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { useGated } from '../helpers/gated.js';

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => {
  const r = await client.callTool({ name, arguments: args });
  return { text: textOf(r), isError: r.isError === true, data: r.structuredContent as Record<string, unknown> | undefined };
};

describe('worker tools', () => {
  const f = useGated({
    before: (tree) => {
      tree.write('acme/grants', 'worker: send_message(chat=tg:*)\n');
      tree.write('acme/support/grants', 'spawn_worker\n');
      tree.write('acme/sales/PERSONA.md', '---\nname: sales\n---\nSales team.\n');
    },
  });

  async function turn(tenant: string, id: string, topic = 'main') {
    const sock = await f.gated.openRunSocket(tenant, { id, topic, chat: 'tg:1', depth: 0 }, { onSubmit: () => undefined });
    const client = await connectClient(sock.socketPath);
    return { client, close: async () => (await client.close(), await sock.close()) };
  }

  it('spawn_worker returns a queued handle at once, recorded for the turn\'s tenant and topic', async () => {
    const t = await turn('acme', 'run_a', 'build');
    const r = await call(t.client, 'spawn_worker', { brief: 'Compile the report\nthen zip it' });
    expect(r.isError).toBe(false);
    expect(r.data).toMatchObject({ state: 'queued' });
    const id = r.data!.worker as string;
    expect(id).toMatch(/^w-[0-9a-f]{12}$/);
    expect(f.gated.store.worker(id)).toMatchObject({
      tenant: 'acme', topic: 'build', spawnedBy: 'run_a', brief: 'Compile the report\nthen zip it', state: 'queued', attempt: 0, result: null,
    });
    const listed = await call(t.client, 'list_workers');
    expect(listed.text).toContain(`${id} queued, #1 in your queue`);
    expect(listed.text).toContain('Compile the report');
    expect(listed.text).not.toContain('zip it'); // the brief's first line only
    await t.close();
  });

  it('list_workers shows only the tenant\'s own workers, queued ones with their place in the queue', async () => {
    const a = await turn('acme', 'run_b');
    const b = await turn('acme/support', 'run_c');
    const mine = (await call(b.client, 'spawn_worker', { brief: 'support task' })).data!.worker as string;
    const second = (await call(b.client, 'spawn_worker', { brief: 'second task' })).data!.worker as string;
    const list = (await call(b.client, 'list_workers')).data!.workers as { worker: string; queue_position?: number }[];
    expect(list.map((w) => [w.worker, w.queue_position])).toEqual([[mine, 1], [second, 2]]);
    const acmes = (await call(a.client, 'list_workers')).data!.workers as { worker: string }[];
    expect(acmes.map((w) => w.worker)).not.toContain(mine);
    // Another tenant's worker reads as one that does not exist, and stays queued.
    const foreign = await call(a.client, 'cancel_worker', { worker: mine });
    expect(foreign).toMatchObject({ isError: true });
    expect(foreign.text).toMatch(/you have no worker "w-/);
    expect(f.gated.store.worker(mine)!.state).toBe('queued');
    await a.close();
    await b.close();
  });

  it('cancel_worker cancels a queued or running worker once; an ended one cannot be cancelled', async () => {
    const t = await turn('acme', 'run_d');
    const queued = (await call(t.client, 'spawn_worker', { brief: 'q' })).data!.worker as string;
    const running = (await call(t.client, 'spawn_worker', { brief: 'r' })).data!.worker as string;
    expect(f.gated.store.startWorker(running, 'warren-x-acme-' + running)).toBe(true);
    expect((await call(t.client, 'cancel_worker', { worker: queued })).text).toMatch(/cancelled w-.*: it will not start/);
    expect((await call(t.client, 'cancel_worker', { worker: running })).text).toMatch(/its container is being stopped/);
    expect(f.gated.store.worker(queued)).toMatchObject({ state: 'cancelled', result: null });
    expect(f.gated.store.worker(queued)!.endedAt).toBeTypeOf('number');
    const again = await call(t.client, 'cancel_worker', { worker: queued });
    expect(again).toMatchObject({ isError: true });
    expect(again.text).toContain('has already ended (cancelled)');
    // A cancelled queued worker can never be started by the pool.
    expect(f.gated.store.startWorker(queued, 'c')).toBe(false);
    await t.close();
  });

  it(`a turn spawns at most ${MAX_SPAWNS_PER_RUN} workers`, async () => {
    const t = await turn('acme', 'run_e');
    for (let i = 0; i < MAX_SPAWNS_PER_RUN; i++) expect((await call(t.client, 'spawn_worker', { brief: `job ${i}` })).isError).toBe(false);
    const over = await call(t.client, 'spawn_worker', { brief: 'one too many' });
    expect(over).toMatchObject({ isError: true });
    expect(over.text).toContain('already spawned 10 workers');
    await t.close();
  });

  it('a team spawns workers only once granted spawn_worker', async () => {
    const sales = await turn('acme/sales', 'run_f');
    const refused = await call(sales.client, 'spawn_worker', { brief: 'not granted' });
    expect(refused.text).toMatch(/^denied: no rule allows "spawn_worker"/);
    await sales.close();
    const support = await turn('acme/support', 'run_g'); // acme/support/grants: spawn_worker
    expect((await call(support.client, 'spawn_worker', { brief: 'granted' })).isError).toBe(false);
    await support.close();
  });

  it('grant and revoke hand a descendant worker: rules like any other, within what the granter holds', async () => {
    const client = await connectClient(f.gated.socketPath('acme'));
    expect((await call(client, 'grant', { group: 'acme/sales', rule: 'worker: !whoami' })).text).toBe('granted "worker: !whoami" to acme/sales');
    expect(readFileSync(join(f.tree.tenants, 'acme/sales/grants'), 'utf8')).toContain('worker: !whoami');
    expect((await call(client, 'grant', { group: 'acme/sales', rule: 'worker: set_vhost' })).text).toMatch(/cannot grant "worker: set_vhost"/);
    expect((await call(client, 'revoke', { group: 'acme/sales', rule: 'worker: !whoami' })).text).toContain('(1 line(s))');
    await client.close();
  });

  it("a worker's socket holds it to the workers' rules as well: no spawning, messaging only as `worker:` lines allow", async () => {
    const sock = await f.gated.openRunSocket('acme', { id: 'w-aaaaaaaaaaaa', topic: 'main', chat: null, depth: 0 }, {
      onSubmit: () => undefined,
      role: 'worker',
    });
    const client = await connectClient(sock.socketPath);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['list_groups', 'list_workers', 'send_message', 'whoami']);
    const spawn = await call(client, 'spawn_worker', { brief: 'recurse' });
    expect(spawn.isError).toBe(true);
    expect(spawn.text).toMatch(/^denied: a worker may not make this call: no rule allows "spawn_worker"/);
    expect(spawn.text).toContain('You are a worker: say what should be done in your result');
    const delegate = await call(client, 'delegate_group', { group: 'acme/support', prompt: 'x' });
    expect(delegate.text).toMatch(/^denied: a worker may not make this call/);
    // Widened by acme's `worker: send_message(chat=tg:*)`, within what acme itself may do.
    expect((await call(client, 'send_message', { chat: 'tg:5', text: 'progress' })).isError).toBe(false);
    expect((await call(client, 'send_message', { chat: 'local:ann', text: 'x' })).text).toMatch(/^denied: a worker may not/);
    const [row] = f.gated.audit.query({ tenant: 'acme', limit: 1 });
    expect(row).toMatchObject({ tool: 'send_message', decision: 'deny', run: 'w-aaaaaaaaaaaa' });
    // The tenant's own turns are unaffected by the workers' rules.
    const t = await turn('acme', 'run_h');
    expect((await call(t.client, 'send_message', { chat: 'local:ann', text: 'x' })).isError).toBe(false);
    await t.close();
    await client.close();
    await sock.close();
  });
});

describe('GatedStore: workers', () => {
  const f = useGated();
  const message = (tenant: string, text: string) => ({ tenant, topic: 'main', kind: 'result' as const, sender: 'w', text });
  const results = () => f.gated.db.prepare(`SELECT text FROM messages WHERE kind = 'result' ORDER BY id`).all() as { text: string }[];

  it('listWorkers: one tenant, its subtree, or all; active only on request; oldest first', () => {
    const s = f.gated.store;
    const a = s.addWorker({ tenant: 'acme', topic: 'main', spawnedBy: 'r', brief: 'a' });
    const b = s.addWorker({ tenant: 'acme/support', topic: 'main', spawnedBy: 'r', brief: 'b' });
    const c = s.addWorker({ tenant: 'acmecorp', topic: 'main', spawnedBy: 'r', brief: 'c' });
    s.startWorker(a.id, 'box-a');
    s.finishWorker(a.id, 'done', 'ok', message('acme', 'ok'));
    const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
    expect(ids(s.listWorkers({ tenant: 'acme' }))).toEqual([a.id]);
    expect(ids(s.listWorkers({ tenant: 'acme', subtree: true }))).toEqual([a.id, b.id]); // not acmecorp
    expect(ids(s.listWorkers({ tenant: 'acme', subtree: true, active: true }))).toEqual([b.id]);
    expect(ids(s.listWorkers({ active: true }))).toEqual([b.id, c.id]);
    expect(s.worker(a.id)).toMatchObject({ state: 'done', container: 'box-a', attempt: 1, result: 'ok' });
    expect(s.worker(a.id)!.startedAt).toBeTypeOf('number');
  });

  it('a result is delivered once, whoever ends the worker: finish after a cancel delivers nothing', () => {
    const s = f.gated.store;
    const w = s.addWorker({ tenant: 'acme', topic: 'main', spawnedBy: 'r', brief: 'x' });
    s.startWorker(w.id, 'box');
    expect(s.cancelWorker('acme', w.id)).toBe(true);
    const before = results().length;
    expect(s.finishWorker(w.id, 'done', 'too late', message('acme', 'too late'))).toBe(false);
    expect(s.undeliveredWorkers().map((u) => u.id)).toContain(w.id);
    expect(s.deliverWorkerResult(w.id, 'cancelled', message('acme', 'cancelled'))).toBe(true);
    expect(s.deliverWorkerResult(w.id, 'cancelled again', message('acme', 'cancelled again'))).toBe(false);
    expect(results().slice(before).map((r) => r.text)).toEqual(['cancelled']);
    expect(s.undeliveredWorkers().map((u) => u.id)).not.toContain(w.id);
  });

  it('requeueWorker puts a running worker back in the queue, keeping its attempt count', () => {
    const s = f.gated.store;
    const w = s.addWorker({ tenant: 'acme', topic: 'main', spawnedBy: 'r', brief: 'x' });
    s.startWorker(w.id, 'box');
    expect(s.requeueWorker(w.id)).toBe(true);
    expect(s.worker(w.id)).toMatchObject({ state: 'queued', container: null, startedAt: null, attempt: 1 });
    expect(s.requeueWorker(w.id)).toBe(false);
  });
});
