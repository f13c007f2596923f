// `npm run bench:cluster` (needs root: it starts a test swarm, test/helpers/cluster): the swarm backend against local
// Docker in the same run, and throughput with 3 nodes against 1.
//
// Measured today, below the turn loop: (a) one container's create -> exit with `docker run` semantics on the main
// daemon against one replicated-job task's create -> complete on the swarm (the same agent image and command), and
// (b) tasks/s for a burst of jobs all held on one node against spread over three. Every node of the test swarm shares
// this machine's cores, so (b) measures Swarm's scheduling and spread, not added capacity: on real machines each node
// brings its own.
// TODO(lead): with gateway/runtime/swarm.ts merged, add whole turns (message accepted -> reply stored) through
// WARREN_RUNTIME=swarm against the local runtime, and turns/s at 3 nodes vs 1; the table rows are already here.
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { ensureAgentImage } from '../images/build.js';
import { clusterUnsupportedReason, startCluster, type Cluster } from '../test/helpers/cluster/index.js';
import { jobServiceSpec } from '../test/helpers/cluster/jobs.js';

const RUNS = Number(process.env.BENCH_TURNS ?? 10);
const BURST = Number(process.env.BENCH_BURST ?? 12);
const NODE = '/usr/local/bin/node';
/** What each task runs: a node process that starts and exits, as the runner does around a turn. */
const COMMAND = [NODE, '-e', 'process.exit(0)'];
const FINAL = new Set(['complete', 'failed', 'rejected', 'shutdown', 'orphaned', 'remove']);

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

const ms = (n: number) => `${n.toFixed(0)} ms`;

/** create -> start -> wait -> remove of one container on the main daemon (what the local backend does per turn). */
async function localOnce(docker: Docker, image: string): Promise<number> {
  const t0 = performance.now();
  const c = await docker.createContainer({ Image: image, Entrypoint: [COMMAND[0]!], Cmd: COMMAND.slice(1), HostConfig: { NetworkMode: 'none' } });
  await c.start();
  const { StatusCode } = (await c.wait()) as { StatusCode: number };
  const elapsed = performance.now() - t0;
  await c.remove({ force: true });
  if (StatusCode !== 0) throw new Error(`local container exited ${StatusCode}`);
  return elapsed;
}

/** Polls (50 ms) until the service's one task is final; the task's state. */
async function taskEnd(manager: Docker, serviceId: string): Promise<string> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const [task] = (await manager.listTasks({ filters: { service: [serviceId] } })) as { Status?: { State?: string } }[];
    const state = task?.Status?.State;
    if (state && FINAL.has(state)) return state;
    if (Date.now() > deadline) throw new Error(`service ${serviceId} did not finish (last: ${state ?? 'no task'})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One replicated-job task, create -> complete (what the Swarm backend does per turn, minus warren's own work). */
async function swarmJob(manager: Docker, image: string, name: string, constraints: string[]): Promise<number> {
  const t0 = performance.now();
  const { id } = (await manager.createService(jobServiceSpec({ name, image, command: COMMAND, constraints }) as never)) as { id: string };
  const state = await taskEnd(manager, id);
  const elapsed = performance.now() - t0;
  await manager.getService(id).remove();
  if (state !== 'complete') throw new Error(`task of ${name} ended ${state}`);
  return elapsed;
}

/** BURST jobs at once; tasks/s from the first create to the last completion. */
async function burst(cluster: Cluster, image: string, label: string, constraints: string[]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: BURST }, (_, i) => swarmJob(cluster.manager.docker, image, `bench-${label}-${i}`, constraints)));
  return BURST / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const unsupported = clusterUnsupportedReason();
  if (unsupported) throw new Error(`bench:cluster needs a test swarm: ${unsupported}`);
  const docker = new Docker();
  const image = (await ensureAgentImage({ docker, progress: (m) => process.stderr.write(`${m}\n`) })).tag;
  process.stderr.write('starting a test swarm: a manager and two workers...\n');
  const cluster = await startCluster({ workers: 2, images: [image] });
  try {
    const worker = `node.hostname==${cluster.workers[0]!.hostname}`;
    await localOnce(docker, image); // warm-up of both paths
    await swarmJob(cluster.manager.docker, image, 'bench-warmup', [worker]);
    process.stderr.write(`${RUNS} sequential runs each, local and swarm...\n`);
    const local: number[] = [];
    const swarm: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      local.push(await localOnce(docker, image));
      swarm.push(await swarmJob(cluster.manager.docker, image, `bench-seq-${i}`, [worker]));
    }
    process.stderr.write(`bursts of ${BURST} jobs: on one node, then over three...\n`);
    const one = await burst(cluster, image, 'one', ['node.role==manager']);
    const three = await burst(cluster, image, 'three', []);
    const p50 = (v: number[]) => quantile(v, 0.5);
    process.stdout.write(
      [
        '## cluster benchmark',
        '',
        `| ${RUNS} runs, sequential | p50 | p90 |`,
        '| --- | --- | --- |',
        `| local: container create -> exit (main daemon) | ${ms(p50(local))} | ${ms(quantile(local, 0.9))} |`,
        `| swarm: replicated-job task create -> complete (worker node) | ${ms(p50(swarm))} | ${ms(quantile(swarm, 0.9))} |`,
        `| swarm / local (p50) | ${(p50(swarm) / p50(local)).toFixed(2)}x | |`,
        '| whole turn, local vs swarm runtime | TODO(lead): needs gateway/runtime/swarm.ts | |',
        '',
        `| burst of ${BURST} jobs | tasks/s |`,
        '| --- | --- |',
        `| 1 node (all on the manager) | ${one.toFixed(2)} |`,
        `| 3 nodes (spread) | ${three.toFixed(2)} |`,
        `| 3 nodes / 1 node | ${(three / one).toFixed(2)}x |`,
        '| turns/s, 3 nodes vs 1, through the swarm runtime | TODO(lead) |',
        '',
        'All nodes share this machine; see the header of bench/cluster.ts for what the figures mean.',
        '',
      ].join('\n'),
    );
  } finally {
    await cluster.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:cluster: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
