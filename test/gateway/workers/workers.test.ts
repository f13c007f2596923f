// Workers with real containers (scripted harness): a coordinator spawns three workers that build for seconds and keeps
// answering meanwhile; results come back once each, also for a cancelled worker, a killed one, and across a killed
// coordinator and a kill -9 of `warren up`. Single writer: a worker cannot write its tenant's home, only its scratch.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarrenDb } from '../../../core/warren-db.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { OutboxView } from '../../../gateway/outbox-view.js';
import type { Warren } from '../../../gateway/warren.js';
import { GatedStore, type WorkerRow } from '../../../gated/store.js';
import { DockerRuntime } from '../../../gateway/runtime/docker.js';
import type { AgentRunOptions } from '../../../gateway/runtime/runtime.js';
import type Docker from 'dockerode';
import { agentImage, containersWithLabel, requireDocker } from '../../helpers/docker.js';
import { warren as cli } from '../../helpers/cli.js';
import { startUp } from '../../helpers/up.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { connectClient } from '../../helpers/mcp.js';
import { eventually } from '../../helpers/wait.js';
import { startWarren, waitForOutbox } from '../../helpers/warren.js';

/** A coordinator whose script is also its workers' (a worker's brief is matched by the same rules). */
const persona = (buildS: number) => `---
harness: script
always_on: true
idle_timeout: 600
limits: { timeout_s: 90 }
script:
  - match: "^spawn three$"
    calls:
      - tool: spawn_worker
        args: { brief: "build alpha" }
      - tool: spawn_worker
        args: { brief: "build beta" }
      - tool: spawn_worker
        args: { brief: "build gamma" }
    reply: "spawned three"
  - match: "^spawn (.+)$"
    calls:
      - tool: spawn_worker
        args: { brief: "$1" }
  - match: "^cancel (w-[0-9a-f]+)$"
    calls:
      - tool: cancel_worker
        args: { worker: "$1" }
  - match: "^build (\\\\w+)$"
    exec: ["node", "-e", "const f = require('fs'); setTimeout(() => { f.writeFileSync('/workspace/scratch/out', '$1'); console.log('built ' + f.readFileSync('/workspace/scratch/out', 'utf8')); }, ${buildS * 1000})"]
  - match: "^write home$"
    exec: ["node", "-e", "const f = require('fs'); let home = 'home written'; try { f.writeFileSync('/home/node/from-worker', 'x'); } catch (e) { home = e.code; } f.writeFileSync('/workspace/scratch/f', 'ok'); console.log(home + ' scratch ' + f.readFileSync('/workspace/scratch/f', 'utf8'))"]
  - match: "^slow (.*)$"
    work: { hold_ms: 4000 }
    reply: "slow done: $1"
  - match: "^(result from worker|worker w-).*"
    reply: "noted: $0"
  - match: ".*"
    reply: "echo: $0"
---
`;

/** How often the coordinator was told of a worker's end, in `text` (its "noted: …" replies). */
const toldIn = (text: string, id: string) => text.match(new RegExp(`noted: (result from worker|worker) ${id}\\b`, 'g'))?.length ?? 0;

describe('workers (real containers)', () => {
  let tree: TempTree;
  let warren: Warren;

  beforeAll(async () => {
    tree = tempTree({ 'lead/PERSONA.md': persona(5), 'lead/home/notes.md': 'the memory\n' });
    warren = await startWarren(tree, { env: { MAX_CONCURRENT_CONTAINERS: '6', WARREN_MAX_WORKERS_PER_TENANT: '3' } });
  });
  afterAll(async () => {
    await warren?.stop();
    tree?.cleanup();
  });

  const send = (text: string) => acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'lead', text, sender: 'ann' });
  const workers = (): WorkerRow[] => warren.gated.store.listWorkers({ tenant: 'lead' });
  const outboxText = () => warren.outbox.list('lead', { limit: 1000 }).map((r) => r.text ?? '').join('\n');
  const told = (id: string) => toldIn(outboxText(), id);
  const workerContainers = async () =>
    (await containersWithLabel(`warren.instance=${warren.config.instance}`)).filter((c) => /^w-/.test(c.Labels['warren.run'] ?? ''));
  const spawned = async (text: string) => {
    const before = new Set(workers().map((w) => w.id));
    send(text);
    await eventually(() => workers().some((w) => !before.has(w.id)), `a worker spawned by "${text}"`);
    return workers().find((w) => !before.has(w.id))!.id;
  };

  it('three workers build in parallel while the coordinator answers; each result comes back once', async () => {
    send('spawn three');
    await waitForOutbox(warren, 'lead', (r) => r.text === 'spawned three');
    await eventually(() => workers().filter((w) => w.state === 'running').length === 3, 'three workers running', 30_000);
    expect(workers().map((w) => w.brief).sort()).toEqual(['build alpha', 'build beta', 'build gamma']);
    // Mid-build, a message is answered by the coordinator without waiting for any worker.
    send('status?');
    await waitForOutbox(warren, 'lead', (r) => r.text === 'echo: status?');
    expect(workers().filter((w) => w.state === 'running')).toHaveLength(3);
    expect(await workerContainers()).toHaveLength(3);

    await eventually(() => workers().every((w) => w.state === 'done'), 'every worker done', 60_000);
    for (const w of workers()) {
      await eventually(() => told(w.id) === 1, `the coordinator told of ${w.id}`, 30_000);
      expect(w.result).toBe(`result from worker ${w.id}: built ${w.brief.split(' ')[1]}`);
      expect(w.attempt).toBe(1);
      // Scratch is removed once the worker is gone.
      expect(existsSync(join(tree.data, 'workers', w.id))).toBe(false);
    }
    await eventually(async () => (await workerContainers()).length === 0, 'worker containers gone');
    const results = warren.db.prepare(`SELECT ref, kind, sender FROM messages WHERE tenant = 'lead' AND kind = 'result'`).all();
    expect(results).toHaveLength(3); // exactly one result message per worker
  });

  it('past the per-tenant cap a worker waits, visibly queued; cancelled there, it never starts', async () => {
    send('spawn three');
    await eventually(() => workers().filter((w) => w.state === 'running').length === 3, 'three running', 30_000);
    const fourth = await spawned('spawn build theta');
    const fifth = await spawned('spawn build iota');
    // WARREN_MAX_WORKERS_PER_TENANT is 3 (and slots are free): these two wait.
    expect(warren.gated.store.worker(fourth)!.state).toBe('queued');
    const client = await connectClient(warren.gated.socketPath('lead'));
    const listed = (await client.callTool({ name: 'list_workers', arguments: {} })).structuredContent as {
      workers: { worker: string; state: string; queue_position?: number }[];
    };
    expect(listed.workers.filter((w) => w.state === 'queued').map((w) => [w.worker, w.queue_position])).toEqual([[fourth, 1], [fifth, 2]]);
    await client.close();
    send(`cancel ${fifth}`);
    await eventually(() => told(fifth) === 1, 'the coordinator told of the cancel', 30_000);
    expect(warren.gated.store.worker(fifth)).toMatchObject({
      state: 'cancelled', startedAt: null, container: null, attempt: 0, result: `worker ${fifth} was cancelled before it started`,
    });
    await eventually(() => warren.gated.store.worker(fourth)?.state === 'done', 'the fourth worker ran once a slot of the tenant was free', 60_000);
    await eventually(() => workers().every((w) => w.state !== 'queued' && w.state !== 'running'), 'all ended', 60_000);
    expect(warren.gated.store.worker(fifth)!.attempt).toBe(0);
  });

  it("single writer: a worker's write to the tenant's home fails (read-only), its scratch is writable", async () => {
    const id = await spawned('spawn write home');
    await eventually(() => warren.gated.store.worker(id)?.state === 'done', 'the worker done', 60_000);
    const result = warren.gated.store.worker(id)!.result!;
    expect(result).toBe(`result from worker ${id}: EROFS scratch ok`);
    expect(existsSync(join(tree.tenants, 'lead', 'home', 'from-worker'))).toBe(false);
  });

  it('cancel_worker stops a running worker; its result says it was cancelled, once', async () => {
    const id = await spawned('spawn build delta');
    await eventually(() => warren.gated.store.worker(id)?.state === 'running', 'the worker running', 30_000);
    await eventually(async () => (await workerContainers()).some((c) => c.State === 'running'), 'its container running');
    send(`cancel ${id}`);
    await eventually(() => told(id) === 1, 'the coordinator told of the cancel', 30_000);
    const w = warren.gated.store.worker(id)!;
    expect(w.state).toBe('cancelled');
    expect(w.result).toMatch(new RegExp(`^worker ${id} was cancelled after running \\d+ s; its work is unfinished$`));
    await eventually(async () => (await workerContainers()).length === 0, 'its container stopped');
    expect(told(id)).toBe(1);
  });

  it("a worker whose container is killed reports that it died; the coordinator is told once", async () => {
    const id = await spawned('spawn build epsilon');
    await eventually(async () => (await workerContainers()).some((c) => c.State === 'running'), 'its container running', 30_000);
    const [victim] = (await workerContainers()).filter((c) => c.State === 'running');
    await (await requireDocker()).getContainer(victim!.Id).kill();
    await eventually(() => warren.gated.store.worker(id)?.state === 'failed', 'the worker failed', 30_000);
    expect(warren.gated.store.worker(id)!.result).toMatch(new RegExp(`^worker ${id} failed: the agent stopped unexpectedly`));
    await eventually(() => told(id) === 1, 'the coordinator told', 30_000);
  });

  it('the coordinator killed mid-turn: workers keep running, and their results reach the new coordinator', async () => {
    const id = await spawned('spawn build zeta');
    send('slow report');
    const coordinator = async () =>
      (await containersWithLabel(`warren.instance=${warren.config.instance}`)).filter((c) => c.State === 'running' && !/^w-/.test(c.Labels['warren.run'] ?? ''));
    await eventually(
      () => (warren.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE tenant = 'lead' AND status = 'running'`).get() as { n: number }).n === 1,
      'the slow turn running',
    );
    await eventually(async () => (await coordinator()).length === 1, 'the coordinator running');
    const [victim] = await coordinator();
    await (await requireDocker()).getContainer(victim!.Id).kill();
    expect(warren.gated.store.worker(id)!.state).not.toBe('failed');
    await waitForOutbox(warren, 'lead', (r) => r.text === 'slow done: report');
    await eventually(() => told(id) === 1, 'the worker result reached the new coordinator', 60_000);
    expect(warren.gated.store.worker(id)).toMatchObject({ state: 'done', attempt: 1 });
    expect(outboxText().split('slow done: report')).toHaveLength(2); // answered once
  });
});

describe('kill -9 of `warren up` with a coordinator and its workers running', () => {
  let tree: TempTree;
  beforeAll(() => {
    tree = tempTree({ 'lead/PERSONA.md': persona(8) });
  });
  afterAll(() => tree.cleanup());

  it('the restarted gateway removes the orphans, runs each interrupted worker again once, and delivers each result once', async () => {
    const instance = `workers-crash-${process.pid}`;
    const env = { WARREN_AGENT_IMAGE: (await agentImage()).tag, WARREN_INSTANCE: instance, MAX_CONCURRENT_CONTAINERS: '6' };
    const containers = () => containersWithLabel(`warren.instance=${instance}`);
    const send = (text: string) => expect(cli(['send', 'lead', text, '--tenants', tree.tenants, '--data', tree.data]).status).toBe(0);
    const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
    const store = new GatedStore(db);
    const view = new OutboxView(db);
    const texts = () => view.list('lead', { limit: 1000 }).map((r) => r.text ?? '').join('\n');
    try {
      const first = await startUp(tree, env);
      send('spawn three');
      await eventually(() => store.listWorkers({ tenant: 'lead' }).filter((w) => w.state === 'running').length === 3, 'three running', 60_000);
      await eventually(async () => (await containers()).filter((c) => c.State === 'running').length === 4, 'their containers running', 30_000);
      const before = (await containers()).map((c) => c.Id);
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));

      const second = await startUp(tree, env);
      // None of the first gateway's containers survives its restart.
      await eventually(async () => (await containers()).every((c) => !before.includes(c.Id)), 'orphans removed', 30_000);
      const ids = store.listWorkers({ tenant: 'lead' }).map((w) => w.id);
      expect(ids).toHaveLength(3);
      await eventually(() => store.listWorkers({ tenant: 'lead' }).every((w) => w.state === 'done'), 'the re-run workers done', 90_000);
      for (const id of ids) {
        await eventually(() => toldIn(texts(), id) === 1, `told of ${id} once`, 60_000);
      }
      expect(store.listWorkers({ tenant: 'lead' }).map((w) => w.attempt)).toEqual([2, 2, 2]);
      send('after');
      await eventually(() => texts().includes('echo: after'), 'a new message answered');
      expect(await second.stop()).toBe(0);
      expect(await containers()).toEqual([]);
      expect(db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE kind = 'result'`).get()).toEqual({ n: 3 });
      const busy = db
        .prepare(`SELECT (SELECT COUNT(*) FROM leases) + (SELECT COUNT(*) FROM messages WHERE run IS NULL) AS n`)
        .get() as { n: number };
      expect(busy.n).toBe(0);
      for (const id of ids) expect(toldIn(texts(), id)).toBe(1);
    } finally {
      db.close();
    }
  });
});

describe('a gateway stopped while a worker runs', () => {
  let tree: TempTree;
  beforeAll(() => {
    // The build outlasts the stop's 5 s grace by far, however slowly the machine got it started.
    tree = tempTree({ 'lead/PERSONA.md': persona(20) });
  });
  afterAll(() => tree.cleanup());

  it('stops the worker without reporting it, and the next start runs it again and delivers its result once', async () => {
    const env = { WARREN_INSTANCE: `workers-stop-${process.pid}` };
    const containers = () => containersWithLabel(`warren.instance=${env.WARREN_INSTANCE}`);
    let warren = await startWarren(tree, { env });
    try {
      acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'lead', text: 'spawn build eta', sender: 'ann' });
      await eventually(() => warren.gated.store.listWorkers({ tenant: 'lead' })[0]?.state === 'running', 'the worker running', 30_000);
      await eventually(async () => (await containers()).length === 2, 'its container and the coordinator running');
      const [w] = warren.gated.store.listWorkers({ tenant: 'lead' });
      await warren.stop();
      expect(await containers()).toEqual([]);
      const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
      expect(new GatedStore(db).worker(w!.id)).toMatchObject({ state: 'running', attempt: 1, result: null });
      db.close();

      warren = await startWarren(tree, { env });
      await eventually(() => warren.gated.store.worker(w!.id)?.state === 'done', 'the worker run again', 60_000);
      expect(warren.gated.store.worker(w!.id)).toMatchObject({ attempt: 2, result: `result from worker ${w!.id}: built eta` });
      await eventually(() => toldIn(warren.outbox.list('lead', { limit: 100 }).map((r) => r.text ?? '').join('\n'), w!.id) === 1, 'told once');
    } finally {
      await warren.stop();
    }
  });

  it('a stop that lands before the worker\'s container has started still stops it', async () => {
    const env = { WARREN_INSTANCE: `workers-early-${process.pid}` };
    const stopped = new Set<string>();
    // Holds each worker's container back until a stop has been asked for it: the window between create and start.
    class HoldingRuntime extends DockerRuntime {
      override async run(spec: Docker.ContainerCreateOptions, opts: AgentRunOptions) {
        if (spec.name?.includes('-w-')) await eventually(() => stopped.has(spec.name!), 'a stop asked for', 60_000);
        return super.run(spec, opts);
      }
      override async stop(name: string, graceS: number) {
        stopped.add(name);
        return super.stop(name, graceS);
      }
    }
    const warren = await startWarren(tree, { env, runtime: new HoldingRuntime(await requireDocker()) });
    let w: WorkerRow | undefined;
    try {
      acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'lead', text: 'spawn build zeta', sender: 'ann' });
      await eventually(() => (w = warren.gated.store.listWorkers({ tenant: 'lead' }).find((x) => x.brief === 'build zeta'))?.state === 'running', 'the worker running', 30_000);
    } finally {
      await warren.stop();
    }
    expect(await containersWithLabel(`warren.instance=${env.WARREN_INSTANCE}`)).toEqual([]);
    const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
    expect(new GatedStore(db).worker(w!.id)).toMatchObject({ state: 'running', result: null });
    db.close();
  }, 120_000);
});
