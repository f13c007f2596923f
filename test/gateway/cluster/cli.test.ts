// `warren nodes`, `warren runs`, `warren describe` and `warren cluster status` as an operator runs them (the built
// CLI), on a real warren.db and the machine's real Docker daemon, which is not in a swarm: the local backend; then
// against a real swarm of separate dockerd (test/helpers/cluster), never the main daemon.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { DEFAULT_BOUNDS } from '../../../gateway/live/chunks.js';
import { RunOutputStore } from '../../../gateway/live/output-store.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { RunStore } from '../../../gateway/run-store.js';
import { warren } from '../../helpers/cli.js';
import { instanceName } from '../../../core/instance.js';
import { clusterUnsupportedReason, startCluster, type Cluster } from '../../helpers/cluster/index.js';
import { jobServiceSpec, waitForTask } from '../../helpers/cluster/jobs.js';
import { agentImage, requireDocker } from '../../helpers/docker.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';

let tree: TempTree;
let host: string;
const ids = {} as Record<'running' | 'placed' | 'done' | 'failed', string>;

/** Four turns: two running (one of them with a placement recorded), one done with output, one failed. */
function seed(): void {
  const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  try {
    const gated = new GatedStore(db);
    const runs = new RunStore(db, 'test', gated);
    const start = (tenant: string, topic: string) => {
      gated.addMessage({ tenant, topic, kind: 'chat', chat: 'local:ann', sender: 'ann', text: 'hi' });
      return runs.tryStart(tenant, topic, 10)!;
    };
    const done = start('acme/support', 'main');
    const output = new RunOutputStore(db, DEFAULT_BOUNDS);
    output.begin(done.id, done.tenant);
    output.append(done.id, 'log', { text: 'thinking about hi' });
    output.append(done.id, 'tool', { data: { tool: 'reply', decision: 'allow' } });
    output.end(done.id, 'done');
    runs.finish(done, { status: 'done', text: 'hello', session: null }, []);
    const failed = start('globex', 'main');
    runs.finish(failed, { status: 'failed', text: 'agent exited with code 1' }, []);
    ids.done = done.id;
    ids.failed = failed.id;
    ids.running = start('acme', 'main').id;
    const placed = start('acme', 'other');
    runs.setPlacement(placed.id, { node: 'node-id-from-an-earlier-swarm', task: 'task-1' });
    ids.placed = placed.id;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  host = ((await (await requireDocker()).info()) as { Name: string }).Name;
  tree = tempTree();
  seed();
});
afterAll(() => tree.cleanup());

const cli = (...args: string[]) => warren([...args, '--data', tree.data]);
const lines = (out: string) => out.trimEnd().split('\n');

describe('on the local Docker backend', () => {
  it('warren nodes says there is no swarm and shows this host as the one node with its running turns', () => {
    const r = cli('nodes');
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(lines(r.stdout)).toEqual([
      'local Docker backend: this Docker daemon is not in a swarm, so this host runs every turn',
      expect.stringMatching(/^NAME\s+STATE\s+AVAILABILITY\s+ROLE\s+RUNNING\s+LABELS\s+UPDATED$/),
      expect.stringMatching(new RegExp(`^${host}\\s+ready\\s+active\\s+local\\s+2\\s+-\\s+-$`)),
    ]);
    const json = lines(cli('nodes', '--json').stdout).map((l) => JSON.parse(l));
    expect(json).toEqual([expect.objectContaining({ name: host, state: 'ready', role: 'local' })]);
    expect(json[0].running.sort()).toEqual([ids.running, ids.placed].sort());
  });

  it('warren cluster status counts this host and the turns by state', () => {
    const r = cli('cluster', 'status');
    expect(r.status).toBe(0);
    expect(lines(r.stdout).slice(0, 3)).toEqual([
      'local Docker backend: this Docker daemon is not in a swarm, so this host runs every turn',
      'nodes: 1 ready, 0 not ready',
      'turns: 2 running, 1 completed, 1 failed, 0 re-queued',
    ]);
    expect(lines(r.stdout).at(-1)).toMatch(new RegExp(`^${host}\\s+ready\\s+2\\s+1\\s+1\\s+0$`));
    expect(JSON.parse(cli('cluster', 'status', '--json').stdout)).toMatchObject({ backend: 'local', turns: { running: 2, done: 1, failed: 1, requeued: 0 } });
  });

  it('warren describe node shows this host and the runs it ran', () => {
    const r = cli('describe', 'node', host);
    expect(r.status).toBe(0);
    const running = /^Running turns: (.*)$/m.exec(r.stdout)![1]!.split(', ');
    expect(running.sort()).toEqual([ids.running, ids.placed].sort());
    for (const id of Object.values(ids)) expect(r.stdout).toContain(id);
    expect(cli('describe', 'node', 'local').status).toBe(0);
    const unknown = cli('describe', 'node', 'gpu-9');
    expect([unknown.status, unknown.stderr]).toEqual([1, 'warren describe: no node "gpu-9" in this installation (local Docker backend: the one node is this host)\n']);
  });
});

describe('warren runs', () => {
  it('lists turns with tenant, topic, node and state, filtered by tenant subtree and state', () => {
    const all = cli('runs');
    expect(all.status).toBe(0);
    expect(lines(all.stdout)[0]).toMatch(/^ID\s+TENANT\s+TOPIC\s+NODE\s+STATE\s+AGE$/);
    const rows = lines(all.stdout).slice(1).map((l) => l.split(/\s+/).slice(0, 5));
    expect(rows).toEqual(expect.arrayContaining([
      [ids.done, 'acme/support', 'main', '-', 'done'],
      [ids.failed, 'globex', 'main', '-', 'failed'],
      [ids.running, 'acme', 'main', '-', 'running'],
      // the recorded node ID, as this daemon knows no swarm to name it
      [ids.placed, 'acme', 'other', 'node-id-from-an-earlier-swarm', 'running'],
    ]));
    expect(rows).toHaveLength(4);
    const acme = lines(cli('runs', '--tenant', 'acme', '--json').stdout).map((l) => JSON.parse(l) as { id: string });
    expect(acme.map((r) => r.id).sort()).toEqual([ids.done, ids.running, ids.placed].sort());
    const running = lines(cli('runs', '--tenant', 'acme', '--state', 'running', '--json').stdout).map((l) => JSON.parse(l) as { id: string; state: string });
    expect(running.map((r) => r.id).sort()).toEqual([ids.running, ids.placed].sort());
    expect(cli('runs', '--state', 'failed', '--limit', '1').stdout).toContain(ids.failed);
    expect(cli('runs', '--tenant', 'initech').stdout).toBe('no runs\n');
  });

  it.each([
    [['--state', 'exploded'], '--state is one of running, done, failed, requeued, not "exploded"'],
    [['--limit', '0'], '--limit takes a whole number >= 1'],
    [['--tenant', '../etc'], ''],
    [['stray'], ''],
  ])('refuses %j with a usage error (exit 2)', (args, message) => {
    const r = cli('runs', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Usage: warren runs');
  });
});

describe('warren describe run', () => {
  it("shows the run and its output as the live-output store kept it", () => {
    const r = cli('describe', 'run', ids.done);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^Run:\s+run_\S+\nTenant:\s+acme\/support\nTopic:\s+main\nState:\s+done\n/);
    expect(r.stdout).toMatch(/Node:\s+not placed \(local Docker backend\)/);
    expect(r.stdout).toContain('Output (chunks 1-2 of 2, ended: done):');
    expect(r.stdout).toMatch(/ 1 \S+ log\s+thinking about hi\n/);
    expect(r.stdout).toMatch(/ 2 \S+ tool\s+\{"tool":"reply","decision":"allow"\}\n/);
    const json = JSON.parse(cli('describe', 'run', ids.done, '--json').stdout) as { run: { id: string }; output: { chunks: unknown[] } };
    expect([json.run.id, json.output.chunks.length]).toEqual([ids.done, 2]);
    expect(cli('describe', 'run', ids.failed).stdout).toMatch(/Error:\s+agent exited with code 1\n[\s\S]*Output: none recorded/);
  });

  it('says a run does not exist, and what describe takes', () => {
    expect([cli('describe', 'run', 'run_nope').status, cli('describe', 'run', 'run_nope').stderr]).toEqual([1, 'warren describe: no run "run_nope"\n']);
    for (const args of [[], ['pod', 'x'], ['run'], ['node', 'a', 'b']]) expect(cli('describe', ...args).status).toBe(2);
  });
});

describe('read-only', () => {
  it('creates no data, and says when there is none', () => {
    const missing = `${tree.root}/no-such-data`;
    expect(warren(['nodes', '--data', missing]).status).toBe(0); // the cluster is Docker's to tell; no turns here
    expect(warren(['cluster', 'status', '--data', missing]).stdout).toContain('turns: 0 running, 0 completed, 0 failed, 0 re-queued');
    const runs = warren(['runs', '--data', missing]);
    expect([runs.status, runs.stderr]).toEqual([1, `warren runs: no warren data at ${missing}\n`]);
    expect(existsSync(missing)).toBe(false);
  });

  it('reads a database the gateway has not opened since placement was added (its runs were never placed)', () => {
    const old = tempTree();
    try {
      const db = openWarrenDb(old.data, GATEWAY_MIGRATIONS.filter((m) => m.name !== 'gateway-003-run-placement'));
      const gated = new GatedStore(db);
      gated.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'local:ann', sender: 'ann', text: 'hi' });
      db.prepare(`INSERT INTO runs (id, instance, tenant, topic, status, attempt, depth, started_at) VALUES ('run_old', 'i', 'acme', 'main', 'done', 1, 0, ?)`)
        .run(new Date().toISOString());
      db.close();
      const r = warren(['runs', '--data', old.data]);
      expect([r.status, lines(r.stdout)[1]!.split(/\s+/).slice(0, 5)]).toEqual([0, ['run_old', 'acme', 'main', '-', 'done']]);
      expect(warren(['cluster', 'status', '--data', old.data]).stdout).toContain('turns: 0 running, 1 completed');
    } finally {
      old.cleanup();
    }
  });

  it('says which daemon it could not reach', () => {
    const r = warren(['nodes', '--data', tree.data], { env: { DOCKER_HOST: `unix://${tree.root}/no.sock` } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^warren nodes: cannot reach the Docker daemon at DOCKER_HOST=unix://${tree.root}/no.sock: .*ENOENT`));
    expect(warren(['cluster', 'bogus', '--data', tree.data]).status).toBe(2);
  });
});

const unsupported = clusterUnsupportedReason();

describe.skipIf(unsupported !== null)(`on a real swarm (a manager and a GPU worker)${unsupported ? ` (skipped: ${unsupported})` : ''}`, () => {
  let cluster: Cluster;
  let swarmTree: TempTree;
  let turn: string;
  let taskId: string;
  const onSwarm = (...args: string[]) => warren([...args, '--data', swarmTree.data], { env: { DOCKER_HOST: `unix://${cluster.manager.socketPath}` } });
  const worker = () => cluster.workers[0]!;

  beforeAll(async () => {
    const image = (await agentImage()).tag;
    cluster = await startCluster({ workers: 1, images: [image], labels: { worker1: { gpu: 'true' } } });
    swarmTree = tempTree();
    const db = openWarrenDb(swarmTree.data, GATEWAY_MIGRATIONS);
    try {
      const gated = new GatedStore(db);
      const runs = new RunStore(db, 'test', gated);
      gated.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'local:ann', sender: 'ann', text: 'hi' });
      turn = runs.tryStart('acme', 'main', 10)!.id;
      // The turn's task, labelled the way warren labels its containers, placed by the GPU label; it exits 3.
      const spec = jobServiceSpec({
        name: 'cli-turn', image, command: ['/usr/local/bin/node', '-e', 'console.log("working"); process.exit(3)'], constraints: ['node.labels.gpu==true'],
      }) as { TaskTemplate: { ContainerSpec: Record<string, unknown> } };
      spec.TaskTemplate.ContainerSpec.Labels = { 'warren.instance': instanceName(swarmTree.data), 'warren.tenant': 'acme', 'warren.run': turn };
      const { id } = (await cluster.manager.docker.createService(spec as never)) as { id: string };
      const task = await waitForTask(cluster.manager.docker, id, 60_000);
      taskId = task.ID;
      runs.setPlacement(turn, { node: task.NodeID!, task: task.ID });
    } finally {
      db.close();
    }
  }, 240_000);

  afterAll(async () => {
    await cluster?.close();
    swarmTree?.cleanup();
  });

  it('warren nodes lists both nodes by hostname, the leader, the labels and the turn running on the worker', () => {
    const r = onSwarm('nodes');
    expect([r.status, r.stderr]).toEqual([0, '']);
    const rows = lines(r.stdout).slice(1).map((l) => l.split(/\s{2,}/).slice(0, 6));
    expect(rows.sort()).toEqual([
      [cluster.manager.hostname, 'ready', 'active', 'manager (leader)', '0', '-'],
      [worker().hostname, 'ready', 'active', 'worker', '1', 'gpu=true'],
    ].sort());
  });

  it("warren describe run names the worker and shows the task's end from the manager; warren runs names the node", () => {
    const r = onSwarm('describe', 'run', turn);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(new RegExp(`^Node:\\s+${worker().hostname}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^Task:\\s+${taskId}  failed \\(desired shutdown\\) exit 3  run ${turn}`, 'm'));
    expect(lines(onSwarm('runs').stdout)[1]!.split(/\s+/).slice(0, 5)).toEqual([turn, 'acme', 'main', worker().hostname, 'running']);
  });

  it('warren describe node shows the worker with its labels, running turn and task', () => {
    const r = onSwarm('describe', 'node', worker().hostname);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Labels:\s+gpu=true$/m);
    expect(r.stdout).toContain(`Running turns: ${turn}`);
    expect(r.stdout).toContain(`  ${taskId}  failed (desired shutdown) exit 3  run ${turn}`);
    expect(onSwarm('describe', 'node', worker().nodeId.slice(0, 6)).stdout).toContain(`Name:           ${worker().hostname}`);
  });

  it("says a worker's daemon cannot list the cluster", () => {
    const r = warren(['nodes', '--data', swarmTree.data], { env: { DOCKER_HOST: `unix://${worker().socketPath}` } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('is a swarm worker');
  });

  it('shows a lost node as down and counts it not ready, its turn still on it', async () => {
    await worker().stop();
    await cluster.waitForNodeState(worker(), 'down', 30_000);
    const r = onSwarm('cluster', 'status');
    expect(r.status).toBe(0);
    expect(lines(r.stdout).slice(0, 3)).toEqual([
      'backend: swarm', `nodes: 1 ready, 1 not ready (${worker().hostname})`, 'turns: 1 running, 0 completed, 0 failed, 0 re-queued',
    ]);
    expect(lines(r.stdout).slice(5).map((l) => l.split(/\s{2,}/)).sort()).toEqual([
      [cluster.manager.hostname, 'ready', '0', '0', '0', '0'],
      [worker().hostname, 'down', '1', '0', '0', '0'],
    ].sort());
    expect(lines(onSwarm('nodes').stdout).find((l) => l.startsWith(worker().hostname))).toMatch(/^\S+\s+down\s+active\s+worker\s+1\s/);
  });
});
