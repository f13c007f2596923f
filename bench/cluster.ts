// `npm run bench:cluster` (needs root: it starts a test swarm, test/helpers/cluster): the swarm backend against local
// Docker in the same run, and throughput with 3 nodes against 1.
//
// Measured today, below the turn loop: (a) one container's create -> exit with `docker run` semantics on the main
// daemon against one replicated-job task's create -> complete on the swarm (the same agent image and command), and
// (b) tasks/s for a burst of jobs all held on one node against spread over three. Every node of the test swarm shares
// this machine's cores, so (b) measures Swarm's scheduling and spread, not added capacity: on real machines each node
// brings its own.
// And through the turn loop: (c) whole turns (message accepted -> reply stored) with WARREN_RUNTIME=swarm against the
// local runtime, sequential, and (d) turns/s for a burst of turns (one conversation each) placed on one node against
// spread over three. A Swarm turn adds a secret, a service, task polling and gated over HTTPS to a local one.
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { ensureAgentImage } from '../images/build.js';
import { clusterUnsupportedReason, startCluster, type Cluster } from '../test/helpers/cluster/index.js';
import { jobServiceSpec } from '../test/helpers/cluster/jobs.js';
import { tempTree, type TempTree } from '../test/helpers/tree.js';
import { silentLogger } from '../core/log.js';
import { acceptMessage } from '../gateway/inbound.js';
import { Warren } from '../gateway/warren.js';

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

const SCRIPTED = (placement: string) => `---
harness: script
${placement}script:
  - match: "^(.*)$"
    reply: "echo: $1"
---
`;

/** Two worlds: solo runs only on the manager, spread anywhere. */
function benchTree(): TempTree {
  return tempTree({
    'root/PERSONA.md': '---\nname: root\n---\nroot\n',
    'solo/PERSONA.md': SCRIPTED('placement:\n  - node.role==manager\n'),
    'spread/PERSONA.md': SCRIPTED(''),
  });
}

async function startWarren(tree: TempTree, docker: Docker, image: string, env: Record<string, string>, egressNetwork?: string): Promise<Warren> {
  return Warren.start({
    tenantsDir: tree.tenants,
    dataDir: tree.data,
    log: silentLogger(),
    docker,
    http: false,
    ...(egressNetwork ? { egress: async () => ({ egressFor: async () => ({ network: egressNetwork, dns: [], env: {} }), stop: async () => undefined }) } : {}),
    env: { WARREN_AGENT_IMAGE: image, WARREN_POLL_MS: '20', MAX_CONCURRENT_CONTAINERS: String(BURST), WARREN_INSTANCE: `bench${process.pid}${Math.floor(Math.random() * 1e4)}`, ...env },
  });
}

/** Sends one message per sender (each its own conversation) and waits until every reply is stored; the elapsed ms. */
async function turns(warren: Warren, tenant: string, senders: string[]): Promise<number> {
  const t0 = performance.now();
  for (const sender of senders) acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text: `hi ${sender}`, sender });
  warren.loop.wake();
  const want = new Set(senders.map((s) => `echo: hi ${s}`));
  const deadline = Date.now() + 300_000;
  for (;;) {
    const got = warren.outbox.list(tenant, { limit: 10_000 }).filter((r) => r.text !== null && want.has(r.text)).length;
    if (got === want.size) return performance.now() - t0;
    if (Date.now() > deadline) throw new Error(`only ${got} of ${want.size} turns of ${tenant} answered`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whole turns through the turn loop: sequential latency on each runtime, then a burst on 1 node and on 3. */
async function wholeTurns(cluster: Cluster, docker: Docker, image: string) {
  const network = `warren-bench${process.pid}-egress`;
  await cluster.manager.docker.createNetwork({ Name: network, Driver: 'overlay' });
  const localTree = benchTree();
  const swarmTree = benchTree();
  const local = await startWarren(localTree, docker, image, {});
  const swarm = await startWarren(swarmTree, cluster.manager.docker, image, { WARREN_RUNTIME: 'swarm', WARREN_GATED_HTTP: `${cluster.hostAddress}:0` }, network);
  try {
    await turns(local, 'spread', ['warm']);
    await turns(swarm, 'spread', ['warm']);
    const localMs: number[] = [];
    const swarmMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      localMs.push(await turns(local, 'spread', [`seq${i}`]));
      swarmMs.push(await turns(swarm, 'spread', [`seq${i}`]));
    }
    const senders = (tag: string) => Array.from({ length: BURST }, (_, i) => `${tag}${i}`);
    const one = BURST / ((await turns(swarm, 'solo', senders('one'))) / 1000);
    const three = BURST / ((await turns(swarm, 'spread', senders('three'))) / 1000);
    return { localMs, swarmMs, one, three };
  } finally {
    await local.stop();
    await swarm.stop();
    localTree.cleanup();
    swarmTree.cleanup();
  }
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
    process.stderr.write(`whole turns: ${RUNS} sequential on each runtime, then bursts of ${BURST} turns on one node and over three...\n`);
    const t = await wholeTurns(cluster, docker, image);
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
        `| whole turn (accepted -> reply stored), local runtime | ${ms(p50(t.localMs))} | ${ms(quantile(t.localMs, 0.9))} |`,
        `| whole turn, swarm runtime | ${ms(p50(t.swarmMs))} | ${ms(quantile(t.swarmMs, 0.9))} |`,
        `| swarm / local turn (p50) | ${(p50(t.swarmMs) / p50(t.localMs)).toFixed(2)}x | |`,
        '',
        `| burst of ${BURST} jobs | tasks/s |`,
        '| --- | --- |',
        `| 1 node (all on the manager) | ${one.toFixed(2)} |`,
        `| 3 nodes (spread) | ${three.toFixed(2)} |`,
        `| 3 nodes / 1 node | ${(three / one).toFixed(2)}x |`,
        '',
        `| burst of ${BURST} turns, swarm runtime | turns/s |`,
        '| --- | --- |',
        `| 1 node (placement node.role==manager) | ${t.one.toFixed(2)} |`,
        `| 3 nodes (no placement) | ${t.three.toFixed(2)} |`,
        `| 3 nodes / 1 node | ${(t.three / t.one).toFixed(2)}x |`,
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
