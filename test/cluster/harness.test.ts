// The test cluster harness against real daemons: one manager and two workers, each its own dockerd in its own network
// namespace on this machine, joined into one swarm. Skipped (with the reason) where the machine cannot run it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentImage } from '../helpers/docker.js';
import { clusterUnsupportedReason, leftoversOf, startCluster, type Cluster } from '../helpers/cluster/index.js';
import { runJob, demuxLogs, jobServiceSpec } from '../helpers/cluster/jobs.js';
import { isStale, nodeNames, parseOwner, runIdOf, runPlan } from '../helpers/cluster/names.js';
import { mountsUnder } from '../helpers/cluster/teardown.js';

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
    // The main daemon is not part of it.
    expect(new Set(cluster.nodes.map((n) => n.socketPath)).size).toBe(3);
  });

  it('runs a replicated job on the worker its constraint names; its output is readable from the manager', async () => {
    const worker = cluster.workers[0]!;
    const job = await runJob(cluster.manager.docker, {
      name: 'harness-hello',
      image,
      command: [NODE, '-e', 'console.log("hello from " + require("os").hostname())'],
      constraints: ['node.labels.warren.test.zone==a'],
    });
    expect(job).toMatchObject({ state: 'complete', exitCode: 0, nodeId: worker.nodeId });
    expect(job.logs).toContain('hello from ');
    await cluster.manager.docker.getService(job.serviceId).remove();
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

  it('reports a worker Down within seconds when its dockerd is killed', async () => {
    const two = cluster.workers[1]!;
    two.stop();
    await cluster.waitForNodeState(two, 'down', 30_000);
    const others = await Promise.all(cluster.nodes.filter((n) => n !== two).map((n) => n.docker.ping().then(() => n.name)));
    expect(others).toEqual(['manager', 'worker1']);
  });

  it('close() leaves no process, netns, link, cgroup, mount or folder behind', async () => {
    const { id } = cluster;
    expect(leftoversOf(id).some((what) => what.startsWith('netns '))).toBe(true);
    await cluster.close();
    expect(leftoversOf(id)).toEqual([]);
    expect(mountsUnder('/var/lib/warren-test-cluster')).toEqual([]);
  });
});
