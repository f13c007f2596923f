import { describe, it, expect } from 'vitest';
import { AGENT_USER, LABELS } from '../../../core/container.js';
import { listenPlan } from '../../../crackbox/swarm/listen-plan.js';
import {
  SNAPSHOT_PATH,
  configName,
  convergence,
  crackboxServiceSpec,
  overlayCreateOptions,
  overlayName,
  overlayOf,
  swarmEgressOf,
  type NodeView,
  type TaskView,
} from '../../../crackbox/swarm/spec.js';

describe('tenant overlays', () => {
  it('are internal, attachable, IPv4-only overlays named and labelled for the tenant', () => {
    expect(overlayName('w1', 'acme/support')).toBe('warren-w1-egress-acme.support');
    expect(overlayCreateOptions('w1', 'acme/support')).toMatchObject({
      Name: 'warren-w1-egress-acme.support',
      Driver: 'overlay',
      Internal: true,
      Attachable: true,
      EnableIPv6: false,
      Labels: { [LABELS.instance]: 'w1', [LABELS.tenant]: 'acme/support' },
    });
  });

  it('are used only when they are exactly that: anything else is refused with the reason', () => {
    const good = {
      Id: 'n1',
      Name: 'warren-w1-egress-acme',
      Driver: 'overlay',
      Scope: 'swarm',
      Internal: true,
      EnableIPv6: false,
      IPAM: { Config: [{ Subnet: '10.0.1.0/24' }] },
      Labels: { [LABELS.instance]: 'w1', [LABELS.tenant]: 'acme' },
    };
    expect(overlayOf(good, 'w1')).toEqual({ overlay: { id: 'n1', name: 'warren-w1-egress-acme', tenant: 'acme', subnet: '10.0.1.0/24' } });
    const refused: [string, object, RegExp][] = [
      ['another instance', { Labels: { [LABELS.instance]: 'w2', [LABELS.tenant]: 'acme' } }, /not labelled for instance w1/],
      ['no tenant label', { Labels: { [LABELS.instance]: 'w1' } }, /not labelled/],
      ['a bridge', { Driver: 'bridge', Scope: 'local' }, /not a swarm overlay/],
      ['not internal', { Internal: false }, /not internal/],
      ['IPv6', { EnableIPv6: true }, /IPv6/],
      ['two subnets', { IPAM: { Config: [{ Subnet: '10.0.1.0/24' }, { Subnet: '10.0.2.0/24' }] } }, /exactly one IPv4 subnet/],
      ['an IPv6 subnet', { IPAM: { Config: [{ Subnet: 'fd00::/64' }] } }, /exactly one IPv4 subnet/],
    ];
    for (const [what, over, why] of refused) {
      const r = overlayOf({ ...good, ...over }, 'w1');
      expect('problem' in r && r.problem, what).toMatch(why);
    }
  });
});

describe('the crackbox global service', () => {
  const spec = crackboxServiceSpec({
    instance: 'w1',
    image: 'warren/crackbox:1',
    outNetwork: 'out',
    overlays: ['a', 'b'],
    config: { id: 'c1', name: configName('w1', '0123456789abcdef') },
    lowestPort: 53,
    env: { WARREN_EGRESS_NODE_UPSTREAM: '10.1.1.1:53' },
  });

  it('runs one task per node, on the way-out network and every tenant overlay', () => {
    expect(spec.Mode).toEqual({ Global: {} });
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'out' }, { Target: 'a' }, { Target: 'b' }]);
    expect(spec.EndpointSpec).toEqual({ Mode: 'dnsrr' }); // a VIP needs IPVS, which not every kernel has
  });

  it('as an unprivileged user without capabilities, read-only, with forwarding off in its namespace', () => {
    const c = spec.TaskTemplate.ContainerSpec;
    expect(c.User).toBe(AGENT_USER);
    expect(c.CapabilityDrop).toEqual(['ALL']);
    expect(c.ReadOnly).toBe(true);
    expect(c.Sysctls).toEqual({ 'net.ipv4.ip_forward': '0', 'net.ipv4.ip_unprivileged_port_start': '53' });
  });

  it('reads the policy from the config named by its digest, and starts a new task before stopping the old one', () => {
    const c = spec.TaskTemplate.ContainerSpec;
    expect(c.Configs).toEqual([{ File: { Name: SNAPSHOT_PATH, UID: '0', GID: '0', Mode: 0o444 }, ConfigID: 'c1', ConfigName: 'warren-w1-egress-0123456789abcdef' }]);
    expect(c.Env).toEqual([`CRACKBOX_SNAPSHOT=${SNAPSHOT_PATH}`, 'WARREN_EGRESS_NODE_UPSTREAM=10.1.1.1:53']);
    expect(spec.UpdateConfig.Order).toBe('start-first');
  });
});

describe('convergence: every ready node runs the current policy', () => {
  const node = (ID: string, State = 'ready', Availability = 'active'): NodeView => ({ ID, Status: { State }, Spec: { Availability } });
  const task = (NodeID: string, config: string, networks: string[], state = 'running', err?: string): TaskView => ({
    NodeID,
    DesiredState: 'running',
    Status: { State: state, ...(err ? { Err: err } : {}) },
    Spec: { ContainerSpec: { Configs: [{ ConfigName: config }] } },
    NetworksAttachments: networks.map((ID) => ({ Network: { ID } })),
  });
  const want = { configName: 'new', networks: ['out', 'a'] };
  const rows: [string, NodeView[], TaskView[], string[]][] = [
    ['every node on the new policy', [node('m'), node('w')], [task('m', 'new', ['out', 'a']), task('w', 'new', ['out', 'a'])], []],
    ['a node still on the old policy', [node('m'), node('w')], [task('m', 'new', ['out', 'a']), task('w', 'old', ['out', 'a'])], ['w']],
    ['the old task still running beside the new one', [node('m')], [task('m', 'new', ['out', 'a']), task('m', 'old', ['out'])], ['m (old policy still running)']],
    ['the old task already shut down', [node('m')], [task('m', 'new', ['out', 'a']), task('m', 'old', ['out'], 'shutdown')], []],
    ['a node whose task lacks the new overlay', [node('m')], [task('m', 'new', ['out'])], ['m']],
    ['a task still starting', [node('m')], [task('m', 'new', ['out', 'a'], 'starting')], ['m']],
    ['a failing task says why', [node('m')], [task('m', 'new', ['out', 'a'], 'failed', 'no such image')], ['m (failed: no such image)']],
    ['a node that is down or drained does not count', [node('m'), node('d', 'down'), node('x', 'ready', 'drain')], [task('m', 'new', ['out', 'a'])], []],
    ['a node with no task at all', [node('m'), node('w')], [task('m', 'new', ['out', 'a'])], ['w']],
  ];
  for (const [what, nodes, tasks, waiting] of rows) {
    it(what, () => {
      expect(convergence(nodes, tasks, want)).toEqual({ done: waiting.length === 0, waiting });
    });
  }
});

describe('what a task of the tenant gets', () => {
  const overlay = { id: 'na', name: 'warren-w1-egress-acme', tenant: 'acme', subnet: '10.0.1.0/24' };
  const want = { configName: 'new', service: 'warren-w1-crackbox', proxyPort: 3128 };
  const task = (config: string, attachments: [string, string][], state = 'running'): TaskView => ({
    DesiredState: 'running',
    Status: { State: state },
    Spec: { ContainerSpec: { Configs: [{ ConfigName: config }] } },
    NetworksAttachments: attachments.map(([ID, a]) => ({ Network: { ID }, Addresses: [a] })),
  });
  it('its overlay; as DNS the current crackbox tasks’ addresses on that overlay (three at most); the proxy by service name', () => {
    const tasks = [
      task('new', [['out', '10.0.9.2/24'], ['na', '10.0.1.7/24'], ['nb', '10.0.2.7/24']]),
      task('new', [['na', '10.0.1.3/24']]),
      task('old', [['na', '10.0.1.2/24']]), // still shutting down: an old policy
      task('new', [['na', '10.0.1.9/24']], 'starting'),
      task('new', [['na', '10.0.1.4/24']]),
      task('new', [['na', '10.0.1.5/24']]),
    ];
    const e = swarmEgressOf(tasks, overlay, want);
    expect(e).toMatchObject({ network: 'warren-w1-egress-acme', dns: ['10.0.1.3', '10.0.1.4', '10.0.1.5'], scope: 'swarm' });
    expect(e.env.HTTPS_PROXY).toBe('http://warren-w1-crackbox:3128');
    expect(e.env.http_proxy).toBe('http://warren-w1-crackbox:3128');
  });
  it('nothing, loudly, while no current crackbox task is on that overlay', () => {
    expect(() => swarmEgressOf([task('new', [['out', '10.0.9.2/24']]), task('old', [['na', '10.0.1.2/24']])], overlay, want)).toThrow(
      /no crackbox task serves warren-w1-egress-acme/,
    );
  });
});

describe('which of its addresses crackbox serves for which tenant', () => {
  const networks = [
    { tenant: 'acme', network: 'na', subnet: '10.0.1.0/24' },
    { tenant: 'beta', network: 'nb', subnet: '10.0.2.0/24' },
  ];
  it('each overlay address for its tenant; the way-out network, loopback and IPv6 for nobody', () => {
    const plan = listenPlan(networks, [
      { address: '127.0.0.1', family: 'IPv4' },
      { address: '10.0.1.5', family: 'IPv4' },
      { address: '10.0.2.7', family: 'IPv4' },
      { address: '10.0.9.3', family: 'IPv4' },
      { address: 'fe80::1', family: 'IPv6' },
    ]);
    expect([...plan.listeners]).toEqual([
      ['10.0.1.5', 'acme'],
      ['10.0.2.7', 'beta'],
    ]);
    expect(plan.missing).toEqual([]);
    expect(plan.problems).toEqual([]);
  });
  it('a missing overlay is reported; an address two overlays claim serves neither', () => {
    const plan = listenPlan([...networks, { tenant: 'gamma', network: 'ng', subnet: '10.0.0.0/16' }], [{ address: '10.0.1.5', family: 'IPv4' }]);
    expect([...plan.listeners]).toEqual([]);
    expect(plan.missing).toEqual(['acme', 'beta', 'gamma']);
    expect(plan.problems).toEqual(['address 10.0.1.5 lies in the overlays of acme and gamma; serving neither']);
  });
});
