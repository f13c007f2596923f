// crackbox with real agent containers: per-tenant internal networks, the host firewall, DNS and the proxy on each
// gateway, proven from inside the container. Nothing outside this machine is contacted: the upstream resolver is a
// fake on 127.0.0.1, "the internet" is a server in a network namespace this test creates (10.250.77.0/24, added to
// the allowed ranges), and every other target is a host address or a Docker network of this test.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdirSync, chownSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../core/db.js';
import { silentLogger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { Crackbox } from '../../crackbox/crackbox.js';
import { egressConfig, type EgressConfig } from '../../crackbox/egress-config.js';
import { queryEgressLog } from '../../crackbox/egress-log.js';
import { chainNames } from '../../crackbox/firewall-rules.js';
import { runCommand } from '../../crackbox/firewall.js';
import { takenRanges } from '../../crackbox/networks.js';
import { readStatusFile } from '../../crackbox/status-file.js';
import { gatewayOf as subnetGateway, overlaps, toCidr } from '../../crackbox/subnets.js';
import { containerSpec } from '../../gateway/container-spec.js';
import { runContainer } from '../../gateway/docker-runner.js';
import { agentImage, requireDocker } from '../helpers/docker.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { FakeUpstream } from './helpers.js';
import { startInternet, type Internet } from './netns.js';
import { PROBE } from './probe.js';

const TAG = String(process.pid % 100000);
const INSTANCE = `cbxt${TAG}`;
const INTERNET_RANGE = '10.250.77';
const PERSONA = (name: string) => `---\nname: ${name}\n---\n${name}\n`;
const ACME_ALLOWLIST = 'allowed.test:80,443\nloop.test\nmeta.test\nlateral.test\n';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const blocked = (v: string) => v !== 'connected' && !v.startsWith('answered');

describe('crackbox with real containers', () => {
  let docker: Docker;
  let image: string;
  let tree: TempTree;
  let registry: TenantRegistry;
  let upstream: FakeUpstream;
  let internet: Internet;
  let db: Db;
  let config: EgressConfig;
  let crackbox: Crackbox;
  let hostTcp: Server;
  let hostUdp: UdpSocket;
  let hostPort: number;
  let runnerDir: string;
  let socketFile: string;
  let runs = 0;
  const crackboxes: Crackbox[] = [];

  const iptablesSave = async (v6 = false) => (await runCommand(v6 ? 'ip6tables-save' : 'iptables-save', ['-t', 'filter'])).stdout;

  /** A crackbox of this test; only the main instance writes the status file (an instance owns its data folder). */
  async function start(instance = INSTANCE, env: Record<string, string> = {}): Promise<Crackbox> {
    const c = await Crackbox.start({
      instance,
      config: egressConfig({ ...configEnv(), ...env }),
      docker,
      registry,
      db,
      dataDir: instance === INSTANCE ? tree.data : undefined,
      log: silentLogger(),
      upstreamTimeoutMs: 1000,
      connectTimeoutMs: 3000,
    });
    crackboxes.push(c);
    return c;
  }

  function configEnv(): Record<string, string> {
    return {
      WARREN_EGRESS_UPSTREAM: `${upstream.host}:${upstream.port}`,
      WARREN_EGRESS_ALLOWED_RANGES: `${INTERNET_RANGE}.0/24`,
      WARREN_EGRESS_BASE: 'base.test:80',
      WARREN_EGRESS_KEEP_NETWORKS: '1', // the restart test needs them; afterAll removes them
    };
  }

  /** Runs the probe in a real agent container of `tenant` on the network egressFor gives, returns its findings. */
  async function probe(tenant: string, checks: string, otherGateway: string): Promise<Json> {
    const egress = await crackbox.egressFor(tenant);
    const runId = `r${++runs}`;
    const tenantDir = join(tree.tenants, tenant);
    // Every host address: interfaces that are up, Docker's default bridge (down while empty), the other gateway.
    const bridgeIpam = (await docker.getNetwork('bridge').inspect()).IPAM?.Config?.[0];
    const dockerBridge = bridgeIpam?.Gateway ?? (bridgeIpam?.Subnet ? subnetGateway(bridgeIpam.Subnet) : undefined);
    const hostAddrs = [
      ...Object.values(networkInterfaces())
        .flat()
        .filter((i) => i && i.family === 'IPv4' && !i.internal)
        .map((i) => i!.address),
      ...(dockerBridge ? [dockerBridge] : []),
      otherGateway,
    ];
    const hostV6 = Object.values(networkInterfaces())
      .flat()
      .filter((i) => i && i.family === 'IPv6' && !i.internal && !i.address.startsWith('fe80'))
      .map((i) => i!.address);
    const spec = containerSpec({
      instance: INSTANCE,
      tenant,
      runId,
      image,
      tenantDir,
      homeDir: join(tenantDir, 'home'),
      socketPath: socketFile,
      runnerDir,
      limits: { memory_mb: 128, cpus: 1, pids: 64, timeout_s: 60 },
      extraMounts: [],
      env: {
        ...egress.env,
        CB_CHECKS: checks,
        CB_OUT: `${runId}.json`,
        CB_OTHER_GATEWAY: otherGateway,
        CB_INTERNET: internet.ip,
        CB_HOST_PORT: String(hostPort),
        CB_HOST_ADDRS: hostAddrs.join(','),
        CB_HOST_V6: hostV6.join(','),
      },
      network: { name: egress.network, dns: egress.dns },
      cmd: ['node', '-e', PROBE],
      tenantFiles: { persona: false, skills: false },
    });
    const result = await runContainer(docker, spec, { stdin: '', timeoutMs: 60_000, log: silentLogger() });
    expect(result.exitCode).toBe(0);
    return JSON.parse(readFileSync(join(tenantDir, 'home', `${runId}.json`), 'utf8'));
  }

  const gatewayOf = async (tenant: string) => (await crackbox.networks.find(tenant))!.gateway;

  beforeAll(async () => {
    docker = await requireDocker();
    image = (await agentImage()).tag;
    tree = tempTree({
      'acme/PERSONA.md': PERSONA('acme'),
      'acme/allowlist': ACME_ALLOWLIST,
      'beta/PERSONA.md': PERSONA('beta'),
      'beta/allowlist': 'beta-only.test\n',
    });
    for (const t of ['acme', 'beta']) {
      mkdirSync(join(tree.tenants, t, 'home'));
      chownSync(join(tree.tenants, t, 'home'), 1000, 1000);
    }
    runnerDir = join(realpathSync(tree.root), 'runner-dist');
    mkdirSync(join(runnerDir, 'runner'), { recursive: true });
    writeFileSync(join(runnerDir, 'runner/main.js'), '');
    socketFile = join(realpathSync(tree.root), 'gated.sock');
    writeFileSync(socketFile, '');
    registry = new TenantRegistry(tree.tenants, silentLogger());
    registry.loadAll();

    const range = toCidr(`${INTERNET_RANGE}.0/24`);
    const clash = (await takenRanges(docker)).find((t) => {
      try {
        return overlaps(toCidr(t), range);
      } catch {
        return false;
      }
    });
    if (clash) throw new Error(`the test range ${INTERNET_RANGE}.0/24 is already in use on this host (${clash})`);
    internet = await startInternet(`cbx${TAG}`, INTERNET_RANGE);

    upstream = await new FakeUpstream().start();
    for (const n of ['allowed.test', 'denied.test', 'later.test', 'base.test', 'beta-only.test']) upstream.records.set(n, [internet.ip]);
    upstream.records.set('loop.test', ['127.0.0.1']);
    upstream.records.set('meta.test', ['169.254.169.254']);
    upstream.records.set('lateral.test', ['10.213.255.254']); // inside the tenant network pool

    // A service on every host address (TCP and UDP) that no container may reach.
    hostTcp = createServer((s) => s.end('host secret'));
    await new Promise<void>((r) => hostTcp.listen({ host: '::', port: 0 }, r));
    hostPort = (hostTcp.address() as { port: number }).port;
    hostUdp = createSocket('udp4');
    hostUdp.on('message', (m, r) => hostUdp.send(m, r.port, r.address));
    await new Promise<void>((r) => hostUdp.bind(hostPort, '0.0.0.0', r));

    db = openDb(join(tree.data, 'warren.db'));
    config = egressConfig(configEnv());
    crackbox = await start();
  });

  afterAll(async () => {
    for (const c of crackboxes) await c.stop().catch(() => undefined);
    if (docker) {
      const leftovers = await docker.listNetworks({ filters: { label: [`warren.instance`] } });
      for (const n of leftovers) {
        if ([INSTANCE, `${INSTANCE}b`, `${INSTANCE}c`].includes(n.Labels?.['warren.instance'] ?? '')) await docker.getNetwork(n.Id).remove().catch(() => undefined);
      }
    }
    await upstream?.stop();
    hostTcp?.close();
    hostUdp?.close();
    await internet?.stop();
    db?.close();
    tree?.cleanup();
  });

  it('installs the firewall for a network before egressFor returns (so before any container starts)', async () => {
    const egress = await crackbox.egressFor('acme');
    const net = (await crackbox.networks.find('acme'))!;
    expect(egress).toEqual({
      network: net.name,
      dns: [net.gateway],
      env: expect.objectContaining({ HTTP_PROXY: `http://${net.gateway}:3128`, https_proxy: `http://${net.gateway}:3128`, NO_PROXY: 'localhost,127.0.0.1' }),
    });
    const info = await docker.getNetwork(net.id).inspect();
    expect(info).toMatchObject({ Internal: true, EnableIPv6: false, Labels: { 'warren.instance': INSTANCE, 'warren.tenant': 'acme' } });
    expect(toCidr(net.subnet).prefix).toBe(26);
    expect(overlaps(toCidr(net.subnet), toCidr('10.213.0.0/16'))).toBe(true);
    const { input, forward } = chainNames(INSTANCE);
    const v4 = await iptablesSave();
    expect(v4).toContain(`-A INPUT -j ${input}`);
    expect(v4).toContain(`-A DOCKER-USER -j ${forward}`);
    expect(v4).toContain(`-A ${input} -s ${net.subnet} -d ${net.gateway}/32 -i ${net.bridge} -p tcp -m tcp --dport 3128 -j ACCEPT`);
    expect(v4).toContain(`-A ${input} -i ${net.bridge} -j DROP`);
    expect(await iptablesSave(true)).toContain(`-A ${input} -i ${net.bridge} -j DROP`);
    expect(await crackbox.firewall.verify(crackbox.listeners())).toEqual([]);
    // Asking again reuses the network.
    expect((await crackbox.egressFor('acme')).network).toBe(net.name);
  });

  it('from inside a container: only crackbox, and only what the allowlist and the address policy permit', async () => {
    const betaGateway = (await crackbox.egressFor('beta')).dns[0]!;
    const acmeGateway = await gatewayOf('acme');
    const [r, b] = await Promise.all([probe('acme', 'main', betaGateway), probe('beta', 'beta', acmeGateway)]);
    if (process.env.CB_SHOW) console.log(JSON.stringify({ r, b }, null, 1));

    // 1. allowed names resolve and are reachable through the proxy; denied ones are NXDOMAIN and never asked upstream
    expect(r.resolveAllowed).toEqual({ ok: [internet.ip] });
    expect(r.resolveBase).toEqual({ ok: [internet.ip] });
    expect(r.resolveDenied).toEqual({ error: 'ENOTFOUND' });
    expect(r.resolveLater).toEqual({ error: 'ENOTFOUND' });
    expect(r.resolveAAAA).toEqual({ error: 'ENODATA' });
    expect(upstream.count('denied.test')).toBe(0);
    expect(upstream.count('later.test')).toBe(0);
    expect(r.httpPlain).toMatchObject({ status: 200, body: 'hello from the internet /hello' });
    expect(r.connectHttp.status).toBe(200);
    expect(r.connectHttp.response).toContain('hello from the internet /tunnelled');
    // the ping-pong only completes if every tick crossed the tunnel before the next was asked for
    expect(r.connectStream).toMatchObject({ status: 200, lines: ['tick 1', 'tick 2', 'tick 3', 'done'] });

    // 2. no way around the proxy and crackbox's DNS
    expect(blocked(r.directHttp), r.directHttp).toBe(true);
    expect(blocked(r.directTls), r.directTls).toBe(true);
    expect(blocked(r.udpDnsInternet), r.udpDnsInternet).toBe(true);
    expect(blocked(r.tcpDnsInternet), r.tcpDnsInternet).toBe(true);
    expect(r.ipv6Interfaces).toEqual([]);
    for (const [addr, v] of r.ipv6Tcp) expect(blocked(v), `${addr}: ${v}`).toBe(true);
    // positive controls: the same kinds of probe do get through to crackbox itself
    expect(r.udpDnsOwn).toBe('answered:0');
    expect(r.tcpDnsOwn).toBe('connected');
    expect(r.tcpProxyOwn).toBe('connected');

    // 3. crackbox's own 403s
    const denied = (x: Json, why: RegExp) => {
      expect(x.status).toBe(403);
      expect(x.decision).toBe('denied');
      expect(x.body).toMatch(/^crackbox denied CONNECT /);
      expect(x.body).toMatch(why);
    };
    denied(r.connectIp, /IP-literal/);
    denied(r.connectLoopback, /127\.0\.0\.1 is loopback/);
    denied(r.connectMetadata, /169\.254\.169\.254 is link-local/);
    denied(r.connectLateral, /tenant network/);
    denied(r.connectPort, /port 8080 is not allowed/);
    denied(r.connectBasePort, /port 443 is not allowed/);

    // 4. no other host port, no other tenant's gateway or network
    expect(r.hostTcp.length).toBeGreaterThan(0);
    for (const [addr, v] of [...r.hostTcp, ...r.hostUdp]) expect(blocked(v), `${addr}: ${v}`).toBe(true);
    expect(blocked(r.ownOtherPort), r.ownOtherPort).toBe(true);
    expect(blocked(r.udpDnsOther), r.udpDnsOther).toBe(true);
    expect(blocked(r.tcpDnsOther), r.tcpDnsOther).toBe(true);
    expect(blocked(r.proxyOther), r.proxyOther).toBe(true);
    expect(blocked(r.containerOther), r.containerOther).toBe(true);

    // the other tenant, at the same time, is decided by its own network: its own policy, not acme's
    expect(b.resolveAllowed).toEqual({ error: 'ENOTFOUND' });
    expect(b.resolveBetaOnly).toEqual({ ok: [internet.ip] });
    expect(b.udpDnsOwn).toBe('answered:0');
    expect(b.connectAllowed).toMatchObject({ status: 403, decision: 'denied' });
    expect(b.connectAllowed.body).toContain('for tenant beta');
    expect(blocked(b.udpDnsOther), b.udpDnsOther).toBe(true);
    expect(blocked(b.proxyOther), b.proxyOther).toBe(true);

    // everything was logged under the right tenant
    crackbox.egressLog.flush();
    const rows = queryEgressLog(db, { limit: 1000 });
    expect(rows.some((x) => x.tenant === 'acme' && x.kind === 'dns' && x.name === 'denied.test' && !x.allowed)).toBe(true);
    expect(rows.some((x) => x.tenant === 'acme' && x.kind === 'connect' && x.name === 'allowed.test' && x.allowed)).toBe(true);
    expect(rows.some((x) => x.tenant === 'acme' && x.kind === 'http' && x.name === 'allowed.test' && x.allowed)).toBe(true);
    expect(rows.some((x) => x.tenant === 'beta' && x.kind === 'dns' && x.name === 'allowed.test' && !x.allowed)).toBe(true);
  });

  it('an allowlist edit applies to the next query; a broken allowlist denies everything, base included', async () => {
    tree.write('acme/allowlist', ACME_ALLOWLIST + 'later.test:80\n');
    registry.reload('acme');
    const beta = await gatewayOf('beta');
    const edited = await probe('acme', 'edited', beta);
    expect(edited.resolveLater).toEqual({ ok: [internet.ip] });
    expect(edited.connectLater.status).toBe(200);
    expect(edited.connectLater.response).toContain('hello from the internet /edited');

    tree.write('acme/allowlist', ACME_ALLOWLIST + 'this line is broken\n');
    registry.reload('acme');
    const broken = await probe('acme', 'broken', beta);
    expect(broken.resolveAllowed).toEqual({ error: 'ENOTFOUND' });
    expect(broken.resolveBase).toEqual({ error: 'ENOTFOUND' });
    expect(broken.connectAllowed).toMatchObject({ status: 403, decision: 'denied', rule: 'broken-allowlist' });
    tree.write('acme/allowlist', ACME_ALLOWLIST);
    registry.reload('acme');
  });

  it('two instances keep separate networks and rules; stopping one leaves the other intact', async () => {
    const other = await start(`${INSTANCE}b`, { WARREN_EGRESS_KEEP_NETWORKS: '0' });
    const theirs = await other.egressFor('acme');
    const ours = await crackbox.egressFor('acme');
    expect(theirs.network).not.toBe(ours.network);
    expect(theirs.dns[0]).not.toBe(ours.dns[0]);
    expect(await other.firewall.verify(other.listeners())).toEqual([]);
    expect(await crackbox.firewall.verify(crackbox.listeners())).toEqual([]);
    const theirNet = (await other.networks.find('acme'))!;
    await other.stop();
    const v4 = await iptablesSave();
    expect(v4).not.toContain(chainNames(`${INSTANCE}b`).input);
    expect(v4).not.toContain(theirNet.bridge);
    expect(await crackbox.firewall.verify(crackbox.listeners())).toEqual([]);
    // KEEP_NETWORKS=0: its network went with it
    expect(await other.networks.find('acme')).toBeNull();
  });

  it('repairs rules changed behind its back on the next egressFor', async () => {
    const net = (await crackbox.networks.find('acme'))!;
    const { input } = chainNames(INSTANCE);
    await runCommand('iptables', ['-w', '-D', input, '-i', net.bridge, '-j', 'DROP']);
    expect((await crackbox.firewall.verify(crackbox.listeners())).length).toBeGreaterThan(0);
    await crackbox.egressFor('acme');
    expect(await crackbox.firewall.verify(crackbox.listeners())).toEqual([]);
  });

  it('removes its rules on stop, and a restart reuses the networks and re-creates the rules', async () => {
    const before = crackbox.listeners().map((n) => [n.tenant, n.id, n.subnet]).sort();
    expect(before.map((x) => x[0])).toEqual(['acme', 'beta']);
    expect(readStatusFile(tree.data)?.listeners.map((l) => l.tenant).sort()).toEqual(['acme', 'beta']);
    await crackbox.stop();
    const { input, forward } = chainNames(INSTANCE);
    for (const text of [await iptablesSave(), await iptablesSave(true)]) {
      expect(text).not.toContain(input);
      expect(text).not.toContain(forward);
    }
    expect(readStatusFile(tree.data)).toBeNull();

    crackbox = await start();
    const after = crackbox.listeners().map((n) => [n.tenant, n.id, n.subnet]).sort();
    expect(after).toEqual(before);
    expect(await crackbox.firewall.verify(crackbox.listeners())).toEqual([]);
    expect((await crackbox.egressFor('acme')).network).toBe((await crackbox.networks.find('acme'))!.name);
    expect(readStatusFile(tree.data)?.listeners).toHaveLength(2);
  });

  it('fails closed: egressFor throws when the firewall cannot be installed, and so does start', async () => {
    let refuse = false;
    const run: typeof runCommand = async (cmd, args, input) =>
      refuse && cmd.includes('restore') ? { code: 1, stdout: '', stderr: 'refused for the test' } : runCommand(cmd, args, input);
    const c = await Crackbox.start({ instance: `${INSTANCE}c`, config: { ...config, keepNetworks: false }, docker, registry, db, log: silentLogger(), run });
    crackboxes.push(c);
    refuse = true;
    await expect(c.egressFor('beta')).rejects.toThrow(/refused for the test/);
    expect(c.listeners()).toEqual([]);
    refuse = false;
    await c.stop();
    refuse = true;
    await expect(
      Crackbox.start({ instance: `${INSTANCE}c`, config: { ...config, keepNetworks: false }, docker, registry, db, log: silentLogger(), run }),
    ).rejects.toThrow(/refused for the test/);
  });
});
