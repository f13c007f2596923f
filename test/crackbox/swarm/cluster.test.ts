// The Swarm egress against a real swarm (test/helpers/cluster: a manager and a worker, each its own dockerd in its own
// network namespace on this machine). crackbox runs as a global service from the crackbox image; probe tasks run on
// the WORKER on their tenant's internal overlay, with exactly the DNS servers and proxy environment egressFor hands
// out. "The internet" is an HTTP server and a resolver the test runs on the host's address on the cluster network —
// reachable from the nodes only, never anything outside this machine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type Docker from 'dockerode';
import type { Egress } from '../../../core/egress.js';
import { silentLogger } from '../../../core/log.js';
import { TenantRegistry } from '../../../core/tree/registry.js';
import { egressConfig } from '../../../crackbox/egress-config.js';
import { SwarmEgress } from '../../../crackbox/swarm/swarm-egress.js';
import { outNetworkName, serviceName } from '../../../crackbox/swarm/spec.js';
import { ensureCrackboxImage } from '../../../images/crackbox.js';
import { clusterUnsupportedReason, startCluster, type Cluster } from '../../helpers/cluster/index.js';
import { jobServiceSpec, serviceLogs, waitForTask } from '../../helpers/cluster/jobs.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { FakeUpstream } from '../helpers.js';

const NODE = '/usr/local/bin/node';
const INSTANCE = 'wswarmegress';
const PERSONA = (name: string) => `---\nname: ${name}\n---\n${name}\n`;

// Runs inside the probe task: every check the test asserts, printed as one JSON line.
const PROBE = String.raw`
const dns = require('node:dns');
const http = require('node:http');
const net = require('node:net');
const dgram = require('node:dgram');
const [target, port, other] = JSON.parse(process.env.PROBE_ARGS);
const proxy = new URL(process.env.HTTP_PROXY);
const out = {};
const lookup = (name) => new Promise((res) => dns.lookup(name, { family: 4 }, (err, address) => res(err ? { error: err.code } : { address })));
const viaProxy = (path) => new Promise((res) => {
  const req = http.request({ host: proxy.hostname, port: Number(proxy.port), path, headers: { host: new URL(path).host } }, (r) => {
    let body = '';
    r.on('data', (c) => (body += c));
    r.on('end', () => res({ status: r.statusCode, rule: r.headers['x-crackbox-rule'] ?? null, body }));
  });
  req.on('error', (e) => res({ error: e.code ?? e.message }));
  req.setTimeout(8000, () => req.destroy(new Error('timeout')));
  req.end();
});
const connectTo = (host, p) => new Promise((res) => {
  const s = net.connect({ host, port: p });
  const done = (r) => { s.destroy(); res(r); };
  s.setTimeout(3000, () => done('timeout'));
  s.on('connect', () => done('connected'));
  s.on('error', (e) => done(e.code));
});
const udpDns = (server) => new Promise((res) => {
  // A minimal A query for allowed.test, sent straight to another resolver's address.
  const q = Buffer.from('abcd01000001000000000000' + '07616c6c6f77656404746573740000010001', 'hex');
  const s = dgram.createSocket('udp4');
  const t = setTimeout(() => { s.close(); res('timeout'); }, 3000);
  s.on('message', () => { clearTimeout(t); s.close(); res('answered'); });
  s.on('error', (e) => { clearTimeout(t); s.close(); res(e.code); });
  s.send(q, 53, server);
});
(async () => {
  if (process.env.PROBE_DIRECT_ONLY) {
    console.log('PROBE ' + JSON.stringify({ directToTarget: await connectTo(target, port) }));
    return;
  }
  out.allowed = await lookup('allowed.test');
  out.denied = await lookup('denied.test');
  out.httpAllowed = await viaProxy('http://allowed.test:' + port + '/hello');
  out.httpDenied = await viaProxy('http://denied.test:' + port + '/hello');
  out.directToTarget = await connectTo(target, port);
  out.otherProxy = other ? await connectTo(other, 3128) : null;
  out.otherDns = other ? await udpDns(other) : null;
  console.log('PROBE ' + JSON.stringify(out));
})();
`;

const unsupported = clusterUnsupportedReason();

describe.skipIf(unsupported !== null)(`egress on every node of a swarm${unsupported ? ` (skipped: ${unsupported})` : ''}`, () => {
  let cluster: Cluster;
  let image: string;
  let tree: TempTree;
  let registry: TenantRegistry;
  let egress: SwarmEgress;
  let upstream: FakeUpstream;
  let web: Server;
  let webPort: number;
  const hits: string[] = [];
  let probes = 0;

  async function probe(on: { hostname: string }, e: Egress, other: string | null, extraEnv: string[] = []): Promise<Record<string, any>> {
    const manager = cluster.manager.docker;
    const spec = jobServiceSpec({
      name: `egress-probe-${++probes}`,
      image,
      command: [NODE, '-e', PROBE],
      constraints: [`node.hostname==${on.hostname}`],
      networks: [e.network],
      env: [...Object.entries(e.env).map(([k, v]) => `${k}=${v}`), `PROBE_ARGS=${JSON.stringify([cluster.hostAddress, webPort, other])}`, ...extraEnv],
    }) as { TaskTemplate: { ContainerSpec: Record<string, unknown> } };
    // What the Swarm runtime does with an Egress: the overlay, its DNS servers, the proxy env, no capabilities.
    spec.TaskTemplate.ContainerSpec.DNSConfig = { Nameservers: e.dns };
    spec.TaskTemplate.ContainerSpec.CapabilityDrop = ['ALL'];
    spec.TaskTemplate.ContainerSpec.User = '1000:1000';
    const { id } = (await manager.createService(spec as Docker.CreateServiceOptions)) as { id: string };
    try {
      const task = await waitForTask(manager, id, 90_000);
      const logs = await serviceLogs(manager, id);
      const line = logs.split('\n').find((l) => l.includes('PROBE '));
      if (task.Status?.State !== 'complete' || !line) throw new Error(`probe ended ${task.Status?.State} (${task.Status?.Err ?? ''}): ${logs}`);
      expect(task.NodeID).toBeTruthy();
      return JSON.parse(line.slice(line.indexOf('PROBE ') + 6));
    } finally {
      await manager.getService(id).remove().catch(() => undefined);
    }
  }

  beforeAll(async () => {
    image = (await ensureCrackboxImage()).tag;
    cluster = await startCluster({ workers: 1, images: [image] });
    const host = cluster.hostAddress;
    // On the host's cluster address, not loopback: the nodes cannot reach this machine's loopback.
    upstream = await new FakeUpstream(host).start();
    web = createServer((req, res) => {
      hits.push(`${req.headers.host}${req.url}`);
      res.end('hello from the stand-in internet');
    });
    webPort = await new Promise<number>((r) => web.listen({ host, port: 0 }, () => r((web.address() as { port: number }).port)));
    for (const n of ['allowed.test', 'denied.test']) upstream.records.set(n, [host]);

    tree = tempTree({
      'acme/PERSONA.md': PERSONA('acme'),
      'acme/allowlist': `allowed.test:${webPort}\n`,
      'beta/PERSONA.md': PERSONA('beta'),
      'beta/allowlist': 'beta-only.test\n',
    });
    registry = new TenantRegistry(tree.tenants, silentLogger());
    registry.loadAll();
    const config = egressConfig({
      WARREN_EGRESS_BASE: '',
      WARREN_EGRESS_UPSTREAM: `${host}:${upstream.port}`,
      // The stand-in internet lives in 198.18/15 (benchmarking), which the address policy denies unless listed.
      WARREN_EGRESS_ALLOWED_RANGES: `${host}/32`,
    });
    egress = await SwarmEgress.start({
      instance: INSTANCE,
      docker: cluster.manager.docker,
      registry,
      config,
      image,
      nodeEnv: { WARREN_EGRESS_NODE_UPSTREAM: `${host}:${upstream.port}` },
      convergeTimeoutMs: 120_000,
    });
  }, 300_000);

  afterAll(async () => {
    await egress?.stop().catch(() => undefined);
    await cluster?.close();
    await upstream?.stop();
    web?.close();
    tree?.cleanup();
  }, 120_000);

  let acme: Egress;
  let beta: Egress;

  it('hands out the tenant’s own internal overlay, crackbox’s addresses on it and the proxy by name, once crackbox runs on every node', async () => {
    await egress.egressFor('acme');
    beta = await egress.egressFor('beta');
    // beta's overlay rolled crackbox onto new tasks (new addresses): a task created now gets the current ones.
    acme = await egress.egressFor('acme');
    expect(acme.network).toBe(`warren-${INSTANCE}-egress-acme`);
    expect(acme.scope).toBe('swarm');
    expect(acme.env.HTTP_PROXY).toBe(`http://${serviceName(INSTANCE)}:3128`);
    const manager = cluster.manager.docker;
    const net = await manager.getNetwork(acme.network).inspect();
    expect(net).toMatchObject({ Driver: 'overlay', Internal: true, Attachable: true, Scope: 'swarm' });
    // One crackbox per node (global), each attached to both overlays; acme's DNS servers lie on acme's overlay only.
    const tasks = (await manager.listTasks({ filters: { service: [serviceName(INSTANCE)], 'desired-state': ['running'] } })) as any[];
    expect(new Set(tasks.map((t) => t.NodeID))).toEqual(new Set(cluster.nodes.map((n) => n.nodeId)));
    const on = (e: Egress) => tasks.flatMap((t) => t.NetworksAttachments.filter((a: any) => a.Network.Spec.Name === e.network).map((a: any) => a.Addresses[0].split('/')[0]));
    expect(new Set(acme.dns)).toEqual(new Set(on(acme)));
    expect(acme.dns.some((a) => on(beta).includes(a))).toBe(false);
    expect(tasks[0].NetworksAttachments.map((a: any) => a.Network.Spec.Name)).toContain(outNetworkName(INSTANCE));
    // The crackbox container on the worker: no capabilities, read-only, unprivileged, forwarding off.
    const worker = cluster.workers[0]!.docker;
    const [info] = await worker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${serviceName(INSTANCE)}`] } });
    const c = await worker.getContainer(info!.Id).inspect();
    expect(c.HostConfig).toMatchObject({ CapDrop: ['ALL'], ReadonlyRootfs: true, Sysctls: { 'net.ipv4.ip_forward': '0' } });
    expect(c.Config.User).toBe('1000:1000');
  }, 240_000);

  it('from a task on the worker: an allowed name resolves and is reachable through the proxy; a denied one is NXDOMAIN and 403; direct connections fail', async () => {
    const r = await probe(cluster.workers[0]!, acme, beta.dns[0]!);
    expect(r.allowed).toEqual({ address: cluster.hostAddress });
    expect(r.denied).toEqual({ error: 'ENOTFOUND' });
    expect(upstream.count('denied.test')).toBe(0); // a denied name never left crackbox
    expect(r.httpAllowed).toMatchObject({ status: 200, body: 'hello from the stand-in internet' });
    expect(hits).toContain(`allowed.test:${webPort}/hello`);
    expect(r.httpDenied).toMatchObject({ status: 403, rule: 'default-deny' });
    expect(hits.some((h) => h.startsWith('denied.test'))).toBe(false);
    // No route out of an internal overlay: the stand-in internet's own address is unreachable without the proxy ...
    expect(r.directToTarget).not.toBe('connected');
    // ... while the same task on an ordinary (non-internal) overlay reaches it directly: the check above is not vacuous.
    const manager = cluster.manager.docker;
    const control = await manager.createNetwork({ Name: 'egress-control', Driver: 'overlay', Internal: false, Attachable: true });
    try {
      const c = await probe(cluster.workers[0]!, { ...acme, network: 'egress-control' }, null, ['PROBE_DIRECT_ONLY=1']);
      expect(c.directToTarget).toBe('connected');
    } finally {
      await control.remove().catch(() => undefined);
    }
    // Tenant B's crackbox addresses are on B's overlay: unreachable from A's task, over TCP and UDP.
    expect(r.otherProxy).not.toBe('connected');
    expect(r.otherDns).not.toBe('answered');
  }, 180_000);

  it('the other tenant, through the same crackbox tasks, gets its own policy', async () => {
    const r = await probe(cluster.workers[0]!, beta, acme.dns[0]!);
    expect(r.allowed).toEqual({ error: 'ENOTFOUND' });
    expect(r.httpAllowed).toMatchObject({ status: 403 });
    expect(r.otherProxy).not.toBe('connected');
    expect(r.otherDns).not.toBe('answered');
  }, 180_000);

  it('an allowlist edit reaches every node before the next task of the tenant starts; a broken allowlist denies everything', async () => {
    tree.write('beta/allowlist', `allowed.test:${webPort}\n`);
    registry.refresh('beta'); // what the tree watcher does on the edit
    beta = await egress.egressFor('beta');
    const opened = await probe(cluster.workers[0]!, beta, null);
    expect(opened.allowed).toEqual({ address: cluster.hostAddress });
    expect(opened.httpAllowed).toMatchObject({ status: 200 });

    tree.write('beta/allowlist', `allowed.test:${webPort}\nnot an entry\n`);
    registry.refresh('beta');
    beta = await egress.egressFor('beta');
    const broken = await probe(cluster.workers[0]!, beta, null);
    expect(broken.allowed).toEqual({ error: 'ENOTFOUND' });
    expect(broken.httpAllowed).toMatchObject({ status: 403, rule: 'broken-allowlist' });
  }, 240_000);

  it('stop removes the service, its policy configs and the networks', async () => {
    await egress.stop();
    const manager = cluster.manager.docker;
    expect((await manager.listServices()).map((x) => x.Spec?.Name)).not.toContain(serviceName(INSTANCE));
    expect(await manager.listConfigs({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
    expect(await manager.listNetworks({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
    await expect(egress.egressFor('acme')).rejects.toThrow(/stopped/);
  }, 120_000);
});
