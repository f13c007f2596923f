// `warren nodes`, `warren runs`, `warren describe` and `warren cluster status` as an operator runs them (the built
// CLI), on a real warren.db and the machine's real Docker daemon, which is not in a swarm: the local backend.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { DEFAULT_BOUNDS } from '../../../gateway/live/chunks.js';
import { RunOutputStore } from '../../../gateway/live/output-store.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { RunStore } from '../../../gateway/run-store.js';
import { warren } from '../../helpers/cli.js';
import { requireDocker } from '../../helpers/docker.js';
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

  it('says which daemon it could not reach', () => {
    const r = warren(['nodes', '--data', tree.data], { env: { DOCKER_HOST: `unix://${tree.root}/no.sock` } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^warren nodes: cannot reach the Docker daemon at DOCKER_HOST=unix://${tree.root}/no.sock: .*ENOENT`));
    expect(warren(['cluster', 'bogus', '--data', tree.data]).status).toBe(2);
  });
});
