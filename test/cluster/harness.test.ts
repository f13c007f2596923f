// The test cluster harness against real daemons: one manager and two workers, each its own dockerd in its own network
// namespace on this machine, joined into one swarm. Skipped (with the reason) where the machine cannot run it.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentImage } from '../helpers/docker.js';
import { clusterUnsupportedReason, leftoversOf, startCluster, type Cluster } from '../helpers/cluster/index.js';
import { runJob, demuxLogs, jobServiceSpec } from '../helpers/cluster/jobs.js';
import { EXTERNAL_CLUSTER_ENV, parseExternalConfig } from '../helpers/cluster/external.js';
import { isStale, nodeNames, parseOwner, runDir, runIdOf, runPlan } from '../helpers/cluster/names.js';
import { mountsUnder, sweepStaleRuns } from '../helpers/cluster/teardown.js';

const NODE = '/usr/local/bin/node';

describe('cluster names (pure)', () => {
  it('derives every name of a run from its id, within the kernel limits', () => {
    const plan = runPlan('0a1b', 3, 2);
    expect(plan.nodes.map((n) => n.name)).toEqual(['manager', 'worker1', 'worker2']);
    expect(plan.subnet).toBe('198.19.203.0/24');
    expect(plan.hostAddress).toBe('198.19.203.1');
    expect(plan.nodes.map((n) => n.address)).toEqual(['198.19.203.2', '198.19.203.3', '198.19.203.4']);
    expect(plan.hostLink).toBe('wrc0a1b-host');
    expect(plan.nodes[1]!.netns).toBe('wrc0a1b-worker1');
    // Link names fit IFNAMSIZ (15) and the deepest unix socket (containerd's) fits sun_path (107 bytes).
    expect(plan.hostLink.length).toBeLessThanOrEqual(15);
    for (const n of plan.nodes) expect(`${n.execRoot}/containerd/containerd.sock`.length).toBeLessThan(107);
  });

  it.each([
    ['wrc0a1b-host', '0a1b'],
    ['wrc0a1b-worker2', '0a1b'],
    ['wrc0a1b-', '0a1b'],
    ['wrc0a1-host', null],
    ['wrcXYZW-host', null],
    ['docker0', null],
    ['br-83094ad9d909', null],
    ['xwrc0a1b-host', null],
  ])('runIdOf(%j) is %j: the sweep only touches names it made', (name, id) => {
    expect(runIdOf(name)).toBe(id);
  });

  it.each([
    ['no owner line', null, null, true],
    ['owner alive with the same start time', '42 1000', '1000', false],
    ['owner pid reused by another process', '42 1000', '2000', true],
    ['owner gone', '42 1000', null, true],
  ])('a run with %s is stale: %s', (_what, ownerText, liveStart, stale) => {
    const owner = ownerText === null ? null : parseOwner(ownerText);
    expect(isStale(owner, () => liveStart)).toBe(stale);
  });

  it('refuses impossible worker counts', () => {
    expect(() => nodeNames(-1)).toThrow(/workers/);
    expect(() => nodeNames(1.5)).toThrow(/workers/);
    expect(nodeNames(0)).toEqual(['manager']);
  });

  it.each([
    ['not json', '{', /cluster.json: not JSON/],
    ['no hostAddress', '{"nodes":[{"docker":"unix:///s","address":"a"}]}', /hostAddress/],
    ['no nodes', '{"hostAddress":"h","nodes":[]}', /nodes must be a non-empty array/],
    ['an ssh url', '{"hostAddress":"h","nodes":[{"docker":"ssh://m","address":"a"}]}', /nodes\[0\]\.docker/],
    ['a node without address', '{"hostAddress":"h","nodes":[{"docker":"tcp://m:2376"}]}', /nodes\[0\]\.address/],
  ])('refuses a WARREN_TEST_CLUSTER file with %s, naming the file and field', (_what, text, message) => {
    expect(() => parseExternalConfig(text, 'cluster.json')).toThrow(message);
  });

  it('reads a WARREN_TEST_CLUSTER file naming real machines', () => {
    const text = '{"hostAddress":"10.1.0.4","nodes":[{"docker":"tcp://10.1.0.5:2376","certPath":"/c","address":"10.1.0.5"}]}';
    expect(parseExternalConfig(text, 'f')).toEqual({
      hostAddress: '10.1.0.4',
      nodes: [{ docker: 'tcp://10.1.0.5:2376', certPath: '/c', address: '10.1.0.5' }],
    });
  });

  it('demultiplexes docker log frames and builds a one-shot job spec', () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    expect(demuxLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')]))).toBe('out\nerr\n');
    const spec = jobServiceSpec({ name: 'j', image: 'i', command: ['c'], constraints: ['node.role==worker'] });
    expect(spec).toMatchObject({
      Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
      TaskTemplate: { RestartPolicy: { Condition: 'none' }, Placement: { Constraints: ['node.role==worker'] } },
    });
  });
});

const unsupported = clusterUnsupportedReason();
// Real machines (WARREN_TEST_CLUSTER): node faults and the local teardown do not apply there.
const external = Boolean(process.env[EXTERNAL_CLUSTER_ENV]);

describe.skipIf(unsupported !== null)(`a swarm of three dockerd on this machine${unsupported ? ` (skipped: ${unsupported})` : ''}`, () => {
  let cluster: Cluster;
  let image: string;

  beforeAll(async () => {
    image = (await agentImage()).tag;
    cluster = await startCluster({ workers: 2, images: [image], labels: { worker1: { 'warren.test.zone': 'a' } } });
  }, 180_000);

  afterAll(async () => {
    await cluster?.close();
  });

  it('joins every node, Ready, each with its own hostname, address and labels', async () => {
    const nodes = await cluster.manager.docker.listNodes();
    const byId = new Map(nodes.map((n) => [n.ID, n]));
    expect(nodes).toHaveLength(3);
    for (const node of cluster.nodes) {
      const seen = byId.get(node.nodeId)!;
      expect(seen.Status?.State).toBe('ready');
      expect(seen.Status?.Addr).toBe(node.address);
      expect(seen.Description?.Hostname).toBe(node.hostname);
      expect(seen.Spec?.Role).toBe(node.role);
    }
    expect(byId.get(cluster.workers[0]!.nodeId)!.Spec?.Labels).toEqual({ 'warren.test.zone': 'a' });
    // Separate engines, none of them the main daemon (each has its own trust key, hence its own engine ID).
    const engineIds = await Promise.all([new Docker(), ...cluster.nodes.map((n) => n.docker)].map(async (d) => (await d.info()).ID));
    expect(new Set(engineIds).size).toBe(4);
  });

  it('runs a replicated job on the worker its constraint names; its output is readable from the manager', async () => {
    const worker = cluster.workers[0]!;
    // Tasks reach the host at cluster.hostAddress (where gated will listen) and nothing beyond the cluster network.
    const host = createServer((_req, res) => res.end('hello from the host'));
    await new Promise<void>((resolve) => host.listen(0, cluster.hostAddress, resolve));
    const port = (host.address() as AddressInfo).port;
    try {
      const job = await runJob(cluster.manager.docker, {
        name: 'harness-hello',
        image,
        constraints: ['node.labels.warren.test.zone==a'],
        command: [NODE, '-e', `
          console.log("hello from " + require("os").hostname());
          fetch("http://${cluster.hostAddress}:${port}/").then((r) => r.text()).then((t) => console.log("host said: " + t))
            .then(() => new Promise((done) => {
              const s = require("net").connect(80, "203.0.113.1");
              s.setTimeout(5000, () => { console.log("outside: timeout"); s.destroy(); done(); });
              s.on("connect", () => { console.log("outside: connected"); s.destroy(); done(); });
              s.on("error", (e) => { console.log("outside: " + e.code); done(); });
            }));`],
      });
      expect(job).toMatchObject({ state: 'complete', exitCode: 0, nodeId: worker.nodeId });
      expect(job.logs).toContain('hello from ');
      expect(job.logs).toContain('host said: hello from the host');
      expect(job.logs).toMatch(/outside: E(HOST|NET)UNREACH/);
      await cluster.manager.docker.getService(job.serviceId).remove();
    } finally {
      host.close();
    }
  });

  it('spans an internal overlay network across nodes: a task on worker1 reaches a task on worker2', async () => {
    const [one, two] = cluster.workers as [Cluster['workers'][0], Cluster['workers'][0]];
    const manager = cluster.manager.docker;
    const network = await manager.createNetwork({ Name: 'harness-overlay', Driver: 'overlay', Internal: true, Attachable: true });
    const server = (await manager.createService({
      Name: 'harness-server',
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          Command: [NODE, '-e', 'require("http").createServer((q, s) => s.end("pong from worker2")).listen(8080)'],
        },
        Placement: { Constraints: [`node.hostname==${two.hostname}`] },
        Networks: [{ Target: network.id }],
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: 'dnsrr' },
    } as never)) as { id: string };
    const client = await runJob(
      manager,
      {
        name: 'harness-client',
        image,
        networks: [network.id],
        constraints: [`node.hostname==${one.hostname}`],
        // The server's task may still be starting: retry for a while, then fail loudly.
        command: [NODE, '-e', `
          const deadline = Date.now() + 30000;
          (async function attempt() {
            try { const r = await fetch("http://harness-server:8080/"); console.log("got: " + await r.text()); }
            catch (e) { if (Date.now() > deadline) { console.error(String(e.cause ?? e)); process.exit(1); } setTimeout(attempt, 300); }
          })();`],
      },
      60_000,
    );
    expect(client).toMatchObject({ state: 'complete', exitCode: 0, nodeId: one.nodeId });
    expect(client.logs).toContain('got: pong from worker2');
    await manager.getService(client.serviceId).remove();
    await manager.getService(server.id).remove();
  });

  it.skipIf(external)('reports a worker Down within seconds when its dockerd is killed, and Ready again after restart()', async () => {
    const two = cluster.workers[1]!;
    await two.stop();
    await expect(two.docker.ping()).rejects.toThrow();
    await cluster.waitForNodeState(two, 'down', 30_000);
    const others = await Promise.all(cluster.nodes.filter((n) => n !== two).map((n) => n.docker.ping().then(() => n.name)));
    expect(others).toEqual(['manager', 'worker1']);
    await two.restart();
    expect((await cluster.manager.docker.getNode(two.nodeId).inspect()).Status.State).toBe('ready');
  });

  it.skipIf(external)('keeps the swarm across a restart of the manager: every node Ready again', async () => {
    await cluster.manager.restart();
    for (const node of cluster.nodes) await cluster.waitForNodeState(node, 'ready', 30_000);
    expect((await cluster.manager.docker.listNodes()).map((n) => n.Status?.State)).toEqual(['ready', 'ready', 'ready']);
  });

  it.skipIf(external)('reports a partitioned worker Down, and Ready again once its link is back', async () => {
    const one = cluster.workers[0]!;
    one.disconnect();
    try {
      await cluster.waitForNodeState(one, 'down', 30_000);
      await one.docker.ping(); // its daemon still runs: a partition, not a crash
    } finally {
      one.reconnect();
    }
    await cluster.waitForNodeState(one, 'ready', 30_000);
  });

  it.skipIf(external)('starts a second cluster from the image seed; sweeps a run whose owner died, processes and containers included, and leaves live runs alone', async () => {
    const orphan = await startCluster({ workers: 0, images: [image] });
    // The second cluster of this process gets its image from the process's seed, without loading it again.
    expect(cluster.imageLoads.map((l) => l.node).sort()).toEqual(['manager', 'worker1', 'worker2']);
    expect(orphan.imageLoads).toEqual([]);
    const container = await orphan.manager.docker.createContainer({
      Image: image,
      Entrypoint: [NODE, '-e', 'setInterval(() => {}, 1000)'],
      HostConfig: { NetworkMode: 'none' },
    });
    await container.start();
    // The owner "dies": its owner line now names a process that has exited.
    const dead = spawnSync('true').pid!;
    writeFileSync(join(runDir(orphan.id), 'owner'), `${dead} 1\n`);
    expect(sweepStaleRuns()).toEqual([orphan.id]);
    expect(leftoversOf(orphan.id)).toEqual([]);
    await orphan.close(); // nothing left to do, and no error
    await cluster.manager.docker.ping(); // the test's own cluster was not touched
    expect(leftoversOf(cluster.id).length).toBeGreaterThan(0);
  });

  it.skipIf(external)('close() leaves no process, netns, link, cgroup, mount or folder behind', async () => {
    const { id } = cluster;
    expect(leftoversOf(id).some((what) => what.startsWith('netns '))).toBe(true);
    await cluster.close();
    expect(leftoversOf(id)).toEqual([]);
    expect(mountsUnder('/var/lib/warren-test-cluster')).toEqual([]);
  });
});
