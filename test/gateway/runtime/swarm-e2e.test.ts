// The whole Swarm installation working together, on a real three-node swarm on this machine (test/helpers/cluster/):
// warren started as `warren up` starts it (cli/start-warren.ts) with WARREN_RUNTIME=swarm, gated over HTTPS and
// crackbox on every node. A turn's task joins only its tenant's INTERNAL overlay: it reaches gated through crackbox
// (a CONNECT tunnel, TLS inside), and the stand-in internet (a server on the host's cluster address) only as its
// allowlist says. Turns are placed by label; a node made active gets turns; a worker's daemon killed mid-turn: the
// turn finishes on the other worker, answered once; a coordinator's worker gets its folders from WARREN_WORKERS_DIR.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { silentLogger } from '../../../core/log.js';
import { startWarren } from '../../../cli/start-warren.js';
import { serviceName } from '../../../crackbox/swarm/spec.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import type { Warren, WarrenOptions } from '../../../gateway/warren.js';
import { containerSpec } from '../../../gateway/container-spec.js';
import { SwarmRuntime } from '../../../gateway/runtime/swarm.js';
import { buildCrackboxImage, crackboxImageTag } from '../../../images/crackbox.js';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Placement } from '../../../gateway/runtime/runtime.js';
import { warrenAsync } from '../../helpers/cli.js';
import { clusterUnsupportedReason, startCluster, type Cluster, type ClusterNode } from '../../helpers/cluster/index.js';
import { serviceLogs } from '../../helpers/cluster/jobs.js';
import { agentImage } from '../../helpers/docker.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { waitForOutbox } from '../../helpers/warren.js';
import { eventually } from '../../helpers/wait.js';

// Runs inside the task (a script rule's exec): a GET through the proxy the egress env names, for each URL given.
const FETCH = String.raw`
const http = require('node:http');
const proxy = new URL(process.env.HTTP_PROXY);
const get = (u) => new Promise((res) => {
  const r = http.request({ host: proxy.hostname, port: Number(proxy.port), path: u, headers: { host: new URL(u).host } }, (x) => {
    let b = '';
    x.on('data', (c) => (b += c));
    x.on('end', () => res(x.statusCode + ' ' + (x.headers['x-crackbox-rule'] || '-') + ' ' + b.trim().split('\n')[0]));
  });
  r.on('error', (e) => res('error ' + (e.code || e.message)));
  r.setTimeout(8000, () => r.destroy(new Error('timeout')));
  r.end();
});
(async () => { for (const u of process.argv.slice(1)) console.log(await get(u)); })();
`;

const persona = (web: string) => `---
name: acme
harness: script
placement:
  - node.labels.agents==true
script:
  - match: "^slow (.*)$"
    work: { hold_ms: 12000 }
    reply: "slow: $1"
  - match: "^who$"
    calls:
      - tool: whoami
        args: {}
    reply: "{{result}}"
  - match: "^fetch$"
    exec: ["node", "-e", ${JSON.stringify(FETCH)}, "http://${web}/listed", "http://${web.replace(/:\d+$/, ':1')}/unlisted"]
    reply: "{{result}}"
  - match: "^(.*)$"
    reply: "echo: $1"
---
The acme world.
`;

// A coordinator whose worker writes its scratch folder: on Swarm that folder is under WARREN_WORKERS_DIR.
const LEAD = `---
name: lead
harness: script
always_on: true
idle_timeout: 5
placement:
  - node.labels.agents==true
script:
  - match: "^spawn (.+)$"
    calls:
      - tool: spawn_worker
        args: { brief: "$1" }
    reply: "spawned"
  - match: "^build (\\\\w+)$"
    work: { hold_ms: 4000 }
    exec: ["node", "-e", "const f = require('fs'); f.writeFileSync('/workspace/scratch/out', '$1'); console.log('built ' + f.readFileSync('/workspace/scratch/out', 'utf8'))"]
  - match: ".*"
    reply: "noted: $0"
---
The lead.
`;

const unsupported = clusterUnsupportedReason();

describe.skipIf(unsupported !== null)('WARREN_RUNTIME=swarm with gated over HTTPS and crackbox on every node', () => {
  let cluster: Cluster;
  let tree: TempTree;
  let warren: Warren;
  let options: WarrenOptions;
  let network: string;
  let image: string;
  let web: Server;
  const hits: string[] = [];
  const instance = `swe${process.pid}`;
  const placements = new Map<string, Placement>();
  const send = (text: string) => acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme', text, sender: 'ann' });
  const seen = new Set<string>();
  /** The runs started since the last call of `fresh()`, oldest first. */
  const allRuns = () =>
    warren.db.prepare(`SELECT id, status, attempt FROM runs WHERE tenant = 'acme' ORDER BY rowid`).all() as { id: string; status: string; attempt: number }[];
  const fresh = () => allRuns().forEach((r) => seen.add(r.id));
  const runsOf = (_messageId: number) => allRuns().filter((r) => !seen.has(r.id));
  const availability = async (node: ClusterNode, to: 'active' | 'drain') => {
    const n = cluster.manager.docker.getNode(node.nodeId);
    const current = await n.inspect();
    await n.update({ _query: { version: current.Version.Index }, _body: { ...current.Spec, Availability: to } } as never);
  };
  /** One turn to its reply; the run and the node it ran on. */
  const turn = async (text: string, reply: (t: string) => boolean) => {
    fresh();
    const { id } = send(text);
    warren.loop.wake();
    const r = await waitForOutbox(warren, 'acme', (m) => reply(m.text ?? ''), 120_000);
    const [run] = runsOf(id);
    return { text: r.text ?? '', run: run!, node: placements.get(run!.id)?.node };
  };

  beforeAll(async () => {
    image = (await agentImage()).tag;
    // A tag of this checkout's own crackbox (the node process must parse this checkout's snapshots).
    const crackbox = (await buildCrackboxImage({ tag: `${crackboxImageTag()}-e2e${process.pid}` })).tag;
    // Two workers take agents; the manager (the gateway's host) takes none.
    cluster = await startCluster({ workers: 2, images: [image, crackbox], labels: { worker1: { agents: 'true' }, worker2: { agents: 'true' } } });
    const host = cluster.hostAddress;
    // The stand-in internet is on another address of this machine: gated's own address is reachable only as gated.
    const internet = cluster.standInAddress;
    web = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('hello from the stand-in internet');
    });
    const webPort = await new Promise<number>((r) => web.listen({ host: internet, port: 0 }, () => r((web.address() as { port: number }).port)));
    // Only for the orphans of the restart test below: a network the runtime's own services can join.
    network = `warren-${instance}-orphans`;
    await cluster.manager.docker.createNetwork({ Name: network, Driver: 'overlay', Attachable: false });
    tree = tempTree({
      'root/PERSONA.md': '---\nname: root\n---\nroot\n',
      'acme/PERSONA.md': persona(`${internet}:${webPort}`),
      'acme/allowlist': `${internet}:${webPort}\n`,
      'lead/PERSONA.md': LEAD,
    });
    // worker2 starts drained: the first turns can only go to worker1; "adding" it is making it active.
    await availability(cluster.workers[1]!, 'drain');
    options = {
      tenantsDir: tree.tenants,
      dataDir: tree.data,
      log: silentLogger(),
      docker: cluster.manager.docker,
      http: false,
      onPlaced: (run, placement) => placements.set(run, placement),
      env: {
        WARREN_RUNTIME: 'swarm',
        WARREN_GATED_HTTP: `${host}:0`,
        WARREN_AGENT_IMAGE: image,
        WARREN_CRACKBOX_IMAGE: crackbox,
        WARREN_INSTANCE: instance,
        WARREN_POLL_MS: '50',
        // On the harness every node sees this machine's filesystem: it stands in for the shared one.
        WARREN_WORKERS_DIR: join(tree.root, 'workers'),
        WARREN_EGRESS: 'on',
        WARREN_EGRESS_BASE: '',
        // The stand-in internet is on the cluster network (198.19/16, which the address policy denies unless listed).
        WARREN_EGRESS_ALLOWED_RANGES: `${internet}/32`,
        // No resolver is needed: the task's targets are addresses.
        WARREN_EGRESS_UPSTREAM: `${host}:53`,
        WARREN_EGRESS_NODE_UPSTREAM: `${host}:53`,
      },
    };
    warren = await startWarren(options);
  }, 300_000);

  afterAll(async () => {
    await warren?.stop();
    await cluster?.close();
    web?.close();
    tree?.cleanup();
  }, 120_000);

  it('places a turn on the active labelled worker; it reaches gated through crackbox over HTTPS and replies', async () => {
    const { text, run, node } = await turn('who', (t) => t.includes('acme'));
    expect(text).toMatch(/acme/); // whoami answered by gated, over HTTPS, from the task
    expect(run).toMatchObject({ status: 'done' });
    expect(node).toBe(cluster.workers[0]!.hostname);
    // The task's only way out was crackbox: its tunnel to gated's exact address and port is in crackbox's log.
    const gated = new URL(warren.gated.httpUrl!);
    const logs = await serviceLogs(cluster.manager.docker, serviceName(instance));
    const tunnel = logs.split('\n').find((l) => l.includes('"rule":"infrastructure:gated"'));
    expect(tunnel).toContain(`"name":"${gated.hostname}","port":${gated.port}`);
    // The reply is committed when the runner reports; once the task is gone, nothing of the run is left on the swarm.
    const left = async () => [
      ...(await cluster.manager.docker.listServices({ filters: { label: [`warren.run=${run.id}`] } })),
      ...(await cluster.manager.docker.listSecrets({ filters: { label: [`warren.run=${run.id}`] } })),
    ];
    await eventually(async () => (await left()).length === 0, 'the service and its secret removed', 30_000);
  }, 150_000);

  it('its egress obeys the allowlist: the listed stand-in answers, an unlisted port is refused by crackbox', async () => {
    const { text, node } = await turn('fetch', (t) => t.includes('unlisted') || /^\d{3} /.test(t) || t.startsWith('error'));
    expect(node).toBe(cluster.workers[0]!.hostname);
    const [listed, unlisted] = text.split('\n');
    expect(listed).toBe('200 - hello from the stand-in internet');
    expect(unlisted).toMatch(/^403 .* crackbox denied GET http:\/\/[\d.]+:1\/unlisted for tenant acme: port 1 is not allowed/);
    expect(hits).toEqual(['/listed']);
  }, 150_000);

  it('a node made active gets turns placed on it; `warren runs` shows where each ran', async () => {
    await availability(cluster.workers[1]!, 'active');
    // worker1 drained in turn, so the scheduler's only choice is the node just added.
    await availability(cluster.workers[0]!, 'drain');
    const { run, node } = await turn('hello again', (t) => t === 'echo: hello again');
    expect(node).toBe(cluster.workers[1]!.hostname);
    await availability(cluster.workers[0]!, 'active');
    const listed = await warrenAsync(['runs', '--tenant', 'acme', '--json', '--data', tree.data], {
      env: { DOCKER_HOST: `unix://${cluster.manager.socketPath}`, WARREN_INSTANCE: instance },
    });
    expect(listed.status).toBe(0);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; node: string | null });
    expect(rows.find((r) => r.id === run.id)?.node).toBe(cluster.workers[1]!.hostname);
  }, 150_000);

  it('a worker whose daemon dies mid-turn: the turn is re-queued once, finishes on the other worker, answered once', async () => {
    fresh();
    const { id } = send('slow lost and found');
    warren.loop.wake();
    const first = await eventually(() => runsOf(id).find((r) => placements.has(r.id)), 'the turn placed', 60_000);
    const lostNode = cluster.workers.find((w) => w.hostname === placements.get(first.id)!.node)!;
    const otherNode = cluster.workers.find((w) => w !== lostNode)!;
    // While it runs: neither its token nor its turn is in the service spec, the task or the container on the worker.
    const [service] = await cluster.manager.docker.listServices({ filters: { label: [`warren.run=${first.id}`] } });
    const task = await eventually(async () => {
      const [t] = (await cluster.manager.docker.listTasks({ filters: { service: [service!.ID] } })) as any[];
      return t?.Status?.ContainerStatus?.ContainerID ? t : undefined;
    }, 'the task has a container', 60_000);
    const container = await lostNode.docker.getContainer(task.Status.ContainerStatus.ContainerID).inspect();
    const inspected = JSON.stringify([await cluster.manager.docker.getService(service!.ID).inspect(), task, container]);
    expect(inspected).not.toMatch(/wgr_/);
    expect(inspected).not.toContain('lost and found');
    lostNode.stop();
    await cluster.waitForNodeState(lostNode, 'down', 60_000);
    const reply = await waitForOutbox(warren, 'acme', (r) => r.text === 'slow: lost and found', 120_000);
    const runs = runsOf(id);
    expect(runs.map((r) => [r.status, r.attempt])).toEqual([
      ['requeued', 1],
      ['done', 2],
    ]);
    expect(placements.get(runs[1]!.id)?.node).toBe(otherNode.hostname);
    // As `warren runs` shows them: each run where it was placed.
    const stored = warren.db.prepare(`SELECT node FROM runs WHERE id IN (?, ?) ORDER BY rowid`).all(runs[0]!.id, runs[1]!.id);
    expect(stored).toEqual([{ node: lostNode.hostname }, { node: otherNode.hostname }]);
    // The lost task held 12 s and then tried to report over its revoked token: by now that is long past. Its result
    // never counted: one reply, and the lost run is still only requeued.
    await new Promise((r) => setTimeout(r, 3000));
    const replies = warren.db.prepare(`SELECT text FROM outbox WHERE tenant = 'acme' AND text = ?`).all(reply.text);
    expect(replies).toHaveLength(1);
    expect(runsOf(id)[0]!.status).toBe('requeued');
  }, 300_000);

  it('a worker spawned by a coordinator runs on a node, with its scratch under WARREN_WORKERS_DIR', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'lead', text: 'spawn build alpha', sender: 'ann' });
    warren.loop.wake();
    const workersDir = join(tree.root, 'workers');
    // While it runs: its service mounts its scratch and brief from WARREN_WORKERS_DIR, on a labelled worker node.
    const running = await eventually(async () => {
      const w = warren.gated.store.listWorkers({ tenant: 'lead' })[0];
      if (!w) return undefined;
      const [service] = await cluster.manager.docker.listServices({ filters: { label: [`warren.run=${w.id}`] } });
      if (!service) return undefined;
      const [task] = (await cluster.manager.docker.listTasks({ filters: { service: [service.ID] } })) as { NodeID?: string }[];
      return task?.NodeID ? { id: w.id, service, node: task.NodeID } : undefined;
    }, 'the worker running as a service', 120_000);
    const mounts = (running.service.Spec?.TaskTemplate as { ContainerSpec?: { Mounts?: { Source?: string; Target?: string }[] } }).ContainerSpec?.Mounts ?? [];
    expect(mounts.find((m) => m.Target === '/workspace/scratch')?.Source).toBe(join(workersDir, running.id, 'scratch'));
    expect(mounts.find((m) => m.Target === '/workspace/brief.md')?.Source).toBe(join(workersDir, running.id, 'brief.md'));
    expect(cluster.workers.map((w) => w.nodeId)).toContain(running.node);
    const worker = await eventually(() => warren.gated.store.listWorkers({ tenant: 'lead' }).find((w) => w.state === 'done' || w.state === 'failed'), 'the worker ended', 120_000);
    expect(worker.result).toBe(`result from worker ${worker.id}: built alpha`);
    await eventually(() => !existsSync(join(workersDir, worker.id)), 'its folder removed', 30_000);
  }, 150_000);

  it('a gateway restart removes the services and turn secrets of its instance, and only those', async () => {
    await warren.stop();
    const tenantDir = realpathSync(join(tree.tenants, 'acme'));
    const orphan = (instance: string, runId: string) =>
      containerSpec({
        instance, tenant: 'acme', runId, image, tenantDir, homeDir: join(tenantDir, 'home'),
        runnerDir: realpathSync(join(import.meta.dirname, '../../../dist/agent')),
        limits: { memory_mb: 128, cpus: 1, pids: 64, timeout_s: 600 }, extraMounts: [], env: {}, network: { name: network },
        cmd: ['node', '-e', 'setTimeout(() => {}, 600000)'], tenantFiles: { persona: true, skills: false },
      });
    // What a gateway killed mid-turn leaves behind: its service (with its secret), running; and another instance's.
    const rt = new SwarmRuntime({ docker: cluster.manager.docker, pollMs: 200 });
    const ours = rt.run(orphan(instance, 'run_orphan1'), { stdin: '{}\n', timeoutMs: 600_000, log: silentLogger() });
    const theirs = rt.run(orphan('someone-else', 'run_theirs1'), { stdin: '{}\n', timeoutMs: 600_000, log: silentLogger() });
    const services = async (run: string) => cluster.manager.docker.listServices({ filters: { label: [`warren.run=${run}`] } });
    await eventually(async () => (await services('run_orphan1')).length === 1 && (await services('run_theirs1')).length === 1, 'both running', 60_000);
    warren = await startWarren(options);
    await ours; // its service was removed by the reconcile, so the run ended
    expect(await services('run_orphan1')).toEqual([]);
    await eventually(
      async () => (await cluster.manager.docker.listSecrets({ filters: { label: ['warren.run=run_orphan1'] } })).length === 0,
      'the orphan secret removed',
      30_000,
    );
    expect(await services('run_theirs1')).toHaveLength(1);
    await rt.removeExcept('someone-else', []);
    await theirs;
  }, 180_000);
});
