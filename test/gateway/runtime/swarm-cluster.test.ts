// WARREN_RUNTIME=swarm end to end on a real three-node swarm on this machine (test/helpers/cluster/): turns placed on
// worker nodes by label, reaching gated over HTTPS from there, a worker's daemon killed mid-turn.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import { Warren, type WarrenOptions } from '../../../gateway/warren.js';
import { containerSpec } from '../../../gateway/container-spec.js';
import { SwarmRuntime } from '../../../gateway/runtime/swarm.js';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Placement } from '../../../gateway/runtime/runtime.js';
import { clusterUnsupportedReason, startCluster, type Cluster } from '../../helpers/cluster/index.js';
import { agentImage } from '../../helpers/docker.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { waitForOutbox } from '../../helpers/warren.js';
import { eventually } from '../../helpers/wait.js';

const ACME = `---
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
  - match: "^(.*)$"
    reply: "echo: $1"
---
The acme world.
`;

const unsupported = clusterUnsupportedReason();

describe.skipIf(unsupported !== null)('WARREN_RUNTIME=swarm on a real cluster', () => {
  let cluster: Cluster;
  let tree: TempTree;
  let warren: Warren;
  let options: WarrenOptions;
  let network: string;
  let image: string;
  const placements = new Map<string, Placement>();
  const send = (text: string) => acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme', text, sender: 'ann' });
  const seen = new Set<string>();
  /** The runs started since the last call of `fresh()`, oldest first. */
  const allRuns = () =>
    warren.db.prepare(`SELECT id, status, attempt FROM runs WHERE tenant = 'acme' ORDER BY rowid`).all() as { id: string; status: string; attempt: number }[];
  const fresh = () => allRuns().forEach((r) => seen.add(r.id));
  const runsOf = (_messageId: number) => allRuns().filter((r) => !seen.has(r.id));

  beforeAll(async () => {
    image = (await agentImage()).tag;
    // Two workers take agents; the manager (the gateway's host) takes none.
    cluster = await startCluster({ workers: 2, images: [image], labels: { worker1: { agents: 'true' }, worker2: { agents: 'true' } } });
    network = `warren-swt${process.pid}-egress`;
    // Stands in for crackbox's overlay (branch swarm-egress): any Swarm network a task reaches gated through.
    await cluster.manager.docker.createNetwork({ Name: network, Driver: 'overlay', Attachable: false });
    tree = tempTree({ 'root/PERSONA.md': '---\nname: root\n---\nroot\n', 'acme/PERSONA.md': ACME });
    options = {
      tenantsDir: tree.tenants,
      dataDir: tree.data,
      log: silentLogger(),
      docker: cluster.manager.docker,
      http: false,
      egress: async () => ({ egressFor: async () => ({ network, dns: [], env: {} }), stop: async () => undefined }),
      onPlaced: (run, placement) => placements.set(run, placement),
      env: {
        WARREN_RUNTIME: 'swarm',
        WARREN_GATED_HTTP: `${cluster.hostAddress}:0`,
        WARREN_AGENT_IMAGE: image,
        WARREN_INSTANCE: `swt${process.pid}`,
        WARREN_POLL_MS: '50',
      },
    };
    warren = await Warren.start(options);
  }, 300_000);

  afterAll(async () => {
    await warren?.stop();
    await cluster?.close();
    tree?.cleanup();
  }, 120_000);

  it('places a turn on a worker by label; it reaches gated over HTTPS and its reply is stored', async () => {
    fresh();
    const { id } = send('who');
    warren.loop.wake();
    const reply = await waitForOutbox(warren, 'acme', (r) => (r.text ?? '').includes('acme'), 90_000);
    expect(reply.text).toMatch(/acme/); // whoami answered over HTTPS from the task
    const [run] = runsOf(id);
    expect(run).toMatchObject({ status: 'done' });
    const workers = cluster.workers.map((w) => w.hostname);
    expect(workers).toContain(placements.get(run!.id)?.node);
    // The reply is committed when the runner reports; once the task is gone, nothing of the run is left on the swarm.
    const left = async () => [
      ...(await cluster.manager.docker.listServices({ filters: { label: [`warren.run=${run!.id}`] } })),
      ...(await cluster.manager.docker.listSecrets({ filters: { label: [`warren.run=${run!.id}`] } })),
    ];
    await eventually(async () => (await left()).length === 0, 'the service and its secret removed', 30_000);
  }, 120_000);

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
    const ours = rt.run(orphan(`swt${process.pid}`, 'run_orphan1'), { stdin: '{}\n', timeoutMs: 600_000, log: silentLogger() });
    const theirs = rt.run(orphan('someone-else', 'run_theirs1'), { stdin: '{}\n', timeoutMs: 600_000, log: silentLogger() });
    const services = async (run: string) => cluster.manager.docker.listServices({ filters: { label: [`warren.run=${run}`] } });
    await eventually(async () => (await services('run_orphan1')).length === 1 && (await services('run_theirs1')).length === 1, 'both running', 60_000);
    warren = await Warren.start(options);
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
