import { describe, it, expect } from 'vitest';
import { parseAllowlist } from '../../../core/allowlist.js';
import { decideConnect, decideName, egressPolicyFor, type AllowlistState } from '../../../crackbox/egress-policy.js';
import {
  buildSnapshot,
  encodeSnapshot,
  gatedTarget,
  infrastructureTargetOf,
  parseSnapshot,
  snapshotDigest,
  snapshotLookup,
  type SnapshotInput,
} from '../../../crackbox/swarm/snapshot.js';

const entries = (text: string, tenant: string) => parseAllowlist(text, `/srv/tenants/${tenant}/allowlist`).entries;

const states: Record<string, AllowlistState> = {
  acme: { entries: entries('!evil.test', 'acme'), broken: null },
  'acme/support': { entries: entries('api.test:443\n*.pkg.test', 'acme/support'), broken: null },
  beta: { entries: [], broken: '/srv/tenants/beta/allowlist:2: invalid entry' },
  unrelated: { entries: entries('unrelated.test', 'unrelated'), broken: null },
};

function input(over: Partial<SnapshotInput> = {}): SnapshotInput {
  return {
    instance: 'w1',
    dnsPort: 53,
    proxyPort: 3128,
    base: parseAllowlist('base.test:443', 'WARREN_EGRESS_BASE').entries,
    networks: [
      { tenant: 'beta', network: 'warren-w1-egress-beta', subnet: '10.0.2.0/24' },
      { tenant: 'acme/support', network: 'warren-w1-egress-acme.support', subnet: '10.0.1.0/24' },
    ],
    allowedRanges: ['192.168.50.0/24'],
    nodeAddresses: ['192.168.1.3', '192.168.1.2', '192.168.1.3'],
    stateOf: (t) => states[t] ?? null,
    ...over,
  };
}

describe('the egress snapshot the manager pushes to every node', () => {
  it('holds the overlays’ tenants and their ancestors only, in a stable order', () => {
    const s = buildSnapshot(input());
    expect(Object.keys(s.tenants)).toEqual(['acme', 'acme/support', 'beta']); // root has no state, unrelated is not wanted
    expect(s.networks.map((n) => n.tenant)).toEqual(['acme/support', 'beta']);
    expect(s.nodeAddresses).toEqual(['192.168.1.2', '192.168.1.3']);
  });

  it('encodes the same policy to the same text, so its digest names the config; any change gives a new one', () => {
    const a = encodeSnapshot(buildSnapshot(input()));
    const b = encodeSnapshot(buildSnapshot(input({ networks: [...input().networks].reverse() })));
    expect(b).toBe(a);
    expect(snapshotDigest(a)).toMatch(/^[0-9a-f]{16}$/);
    const edited = encodeSnapshot(
      buildSnapshot(input({ stateOf: (t) => (t === 'acme/support' ? { entries: entries('api.test:8443', t), broken: null } : states[t] ?? null) })),
    );
    expect(snapshotDigest(edited)).not.toBe(snapshotDigest(a));
  });

  it('round-trips: the node decides exactly what the manager’s registry decides', () => {
    const s = parseSnapshot(encodeSnapshot(buildSnapshot(input())));
    const onNode = (t: string) => egressPolicyFor(t, snapshotLookup(s), s.base);
    const onManager = (t: string) => egressPolicyFor(t, (x) => states[x] ?? null, input().base);
    const cases: [string, string, number][] = [
      ['acme/support', 'api.test', 443],
      ['acme/support', 'api.test', 80],
      ['acme/support', 'x.pkg.test', 80],
      ['acme/support', 'evil.test', 443], // the ancestor's deny
      ['acme/support', 'base.test', 443],
      ['acme/support', 'unrelated.test', 443],
      ['beta', 'base.test', 443], // broken: everything denied, base included
    ];
    for (const [tenant, host, port] of cases) {
      expect(decideConnect(onNode(tenant), host, port), `${tenant} ${host}:${port}`).toEqual(decideConnect(onManager(tenant), host, port));
    }
    expect(decideConnect(onNode('acme/support'), 'api.test', 443).allowed).toBe(true);
    expect(decideConnect(onNode('acme/support'), 'evil.test', 443).allowed).toBe(false);
    expect(decideName(onNode('beta'), 'base.test').allowed).toBe(false);
    expect(decideName(onNode('beta'), 'base.test').rule).toBe('broken-allowlist');
  });

  it('refuses anything it does not fully understand, naming the field', () => {
    const good = JSON.parse(encodeSnapshot(buildSnapshot(input())));
    const bad: [string, (d: any) => unknown, RegExp][] = [
      ['not JSON', () => '{', /document: not JSON/],
      ['another version', (d) => ({ ...d, version: 1 }), /version: must be 2/],
      ['a bad tenant name', (d) => ({ ...d, tenants: { ...d.tenants, '../x': { entries: [], broken: null } } }), /invalid tenant/],
      ['broken as a number', (d) => ({ ...d, tenants: { acme: { entries: [], broken: 1 } } }), /broken: must be null or a reason/],
      ['an allow entry without ports', (d) => ({ ...d, base: [{ ...d.base[0], ports: [] }] }), /base\[0\]: an allow entry must list its ports/],
      ['a port out of range', (d) => ({ ...d, base: [{ ...d.base[0], ports: [70000] }] }), /base\[0\]\.ports\[0\]/],
      ['an unknown effect', (d) => ({ ...d, base: [{ ...d.base[0], effect: 'maybe' }] }), /effect must be allow or deny/],
      ['a deny entry with ports', (d) => ({ ...d, tenants: { acme: { entries: [{ ...d.tenants.acme.entries[0], ports: [1] }], broken: null } } }), /a deny entry takes no ports/],
      ['a bad subnet', (d) => ({ ...d, networks: [{ ...d.networks[0], subnet: '10.0.0.0/33' }] }), /networks\[0\]\.subnet/],
      ['a bad allowed range', (d) => ({ ...d, allowedRanges: ['nope'] }), /allowedRanges/],
      ['an IPv6 node address', (d) => ({ ...d, nodeAddresses: ['::1'] }), /nodeAddresses: not an IPv4 address/],
      ['equal ports', (d) => ({ ...d, proxyPort: 53 }), /proxyPort: must differ from dnsPort/],
      ['no networks', (d) => ({ ...d, networks: undefined }), /networks: must be a list/],
      ['no infrastructure list', (d) => ({ ...d, infrastructure: undefined }), /infrastructure: must be a list/],
      ['an infrastructure name', (d) => ({ ...d, infrastructure: [{ name: 'gated', address: 'gated.test', port: 7443 }] }), /infrastructure\[0\]\.address: not an IPv4 address/],
      ['an infrastructure port', (d) => ({ ...d, infrastructure: [{ name: 'gated', address: '10.0.0.1', port: 0 }] }), /infrastructure\[0\]\.port/],
    ];
    for (const [what, mutate, error] of bad) {
      const doc = mutate(structuredClone(good));
      expect(() => parseSnapshot(typeof doc === 'string' ? doc : JSON.stringify(doc)), what).toThrow(error);
    }
  });

  it('a tenant absent from the snapshot has no allowlist (the base list), as in the registry', () => {
    const s = parseSnapshot(encodeSnapshot(buildSnapshot(input())));
    expect(snapshotLookup(s)('nobody')).toBeNull();
    expect(snapshotLookup(s)('constructor')).toBeNull();
  });

  it('carries gated’s endpoint as the one infrastructure target: exactly its address and port', () => {
    const gated = gatedTarget('https://192.168.1.2:7443/mcp');
    expect(gated).toEqual({ name: 'gated', address: '192.168.1.2', port: 7443 });
    const s = parseSnapshot(encodeSnapshot(buildSnapshot(input({ infrastructure: [gated] }))));
    expect(s.infrastructure).toEqual([gated]);
    expect(parseSnapshot(encodeSnapshot(buildSnapshot(input()))).infrastructure).toEqual([]);
    const table: [string, number, string | null][] = [
      ['192.168.1.2', 7443, 'gated'],
      ['192.168.1.2', 443, null], // another port of the same host
      ['192.168.1.3', 7443, null], // another node
      ['192.168.001.002', 7443, null], // only the exact text the runner was given
      ['gated.test', 7443, null],
    ];
    for (const [host, port, name] of table) expect(infrastructureTargetOf(s.infrastructure, host, port)?.name ?? null, `${host}:${port}`).toBe(name);
  });

  it('refuses a gated endpoint that names no IPv4 address, or is not https', () => {
    expect(gatedTarget('https://10.1.2.3/mcp').port).toBe(443);
    expect(() => gatedTarget('https://gated.example:7443/mcp')).toThrow(/must name an IPv4 address/);
    expect(() => gatedTarget('https://[::1]:7443/mcp')).toThrow(/must name an IPv4 address/);
    expect(() => gatedTarget('http://10.1.2.3:7443/mcp')).toThrow(/not https/);
    expect(() => gatedTarget('nope')).toThrow(/not a URL/);
  });
});
