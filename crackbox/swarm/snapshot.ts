// The egress policy as the manager hands it to crackbox on every Swarm node: one JSON document (a Docker config)
// holding the base list, the allowlist state of every tenant that has an overlay and of its ancestors, the overlays'
// subnets, and what the address policy needs. PURE: built from the registry's view, encoded stably (the same
// policy always gives the same text, so its digest names the config), and parsed strictly on the node — a snapshot
// that does not parse stops the node's crackbox instead of being guessed at.
import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { AllowlistEntry } from '../../core/allowlist.js';
import { ancestorsOf, tenantPathProblem, type TenantPath } from '../../core/tenant-path.js';
import { parseCidr } from '../address-policy.js';
import type { AllowlistState } from '../egress-policy.js';

export const SNAPSHOT_VERSION = 2;

/** A tenant's overlay as crackbox on a node needs it: its own address on the overlay is in `subnet`. */
export interface SnapshotNetwork {
  tenant: TenantPath;
  network: string;
  subnet: string;
}

/**
 * A part of warren itself that tasks on the tenant overlays must reach through crackbox: gated's HTTPS endpoint on
 * the manager. Not an allowlist entry: exactly one IPv4 address and port, for CONNECT only (the runner's TLS to gated
 * goes through the tunnel, so crackbox sees ciphertext), allowed for every tenant regardless of its allowlist and of
 * the address policy (the endpoint usually is a node address, which is otherwise never a destination).
 */
export interface InfrastructureTarget {
  name: string;
  address: string;
  port: number;
}

export interface EgressSnapshot {
  version: typeof SNAPSHOT_VERSION;
  instance: string;
  dnsPort: number;
  proxyPort: number;
  base: AllowlistEntry[];
  /** Allowlist state by tenant; a tenant missing here has no allowlist file (no entries), as in the registry. */
  tenants: Record<TenantPath, AllowlistState>;
  networks: SnapshotNetwork[];
  allowedRanges: string[];
  /** Every node's address: never a destination, like the host's own addresses for the local crackbox. */
  nodeAddresses: string[];
  infrastructure: InfrastructureTarget[];
}

export interface SnapshotInput {
  instance: string;
  dnsPort: number;
  proxyPort: number;
  base: readonly AllowlistEntry[];
  networks: readonly SnapshotNetwork[];
  allowedRanges: readonly string[];
  nodeAddresses: readonly string[];
  infrastructure?: readonly InfrastructureTarget[];
  /** The allowlist state of a tenant (crackbox/tenant-allowlists.ts over the registry); null = no allowlist. */
  stateOf(tenant: TenantPath): AllowlistState | null;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The snapshot for these overlays: only their tenants and those tenants' ancestors, in a stable order. */
export function buildSnapshot(input: SnapshotInput): EgressSnapshot {
  const wanted = new Set<TenantPath>();
  for (const n of input.networks) {
    wanted.add(n.tenant);
    for (const a of ancestorsOf(n.tenant)) wanted.add(a);
  }
  const tenants: Record<TenantPath, AllowlistState> = {};
  for (const t of [...wanted].sort(byString)) {
    const state = input.stateOf(t);
    if (state) tenants[t] = { entries: state.entries.map((e) => ({ ...e, ports: e.ports ? [...e.ports] : null })), broken: state.broken };
  }
  return {
    version: SNAPSHOT_VERSION,
    instance: input.instance,
    dnsPort: input.dnsPort,
    proxyPort: input.proxyPort,
    base: input.base.map((e) => ({ ...e, ports: e.ports ? [...e.ports] : null })),
    tenants,
    networks: [...input.networks].sort((a, b) => byString(a.tenant, b.tenant)).map((n) => ({ ...n })),
    allowedRanges: [...input.allowedRanges],
    nodeAddresses: [...new Set(input.nodeAddresses)].sort(byString),
    infrastructure: (input.infrastructure ?? []).map((t) => ({ ...t })),
  };
}

/**
 * gated's endpoint as an infrastructure target, from the URL runs are given (https://a.b.c.d:port/...). The host must
 * be an IPv4 address: the tunnel is allowed to exactly that address, never to a name whose answers could change.
 */
export function gatedTarget(url: string): InfrastructureTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`gated's endpoint ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'https:') throw new Error(`gated's endpoint ${url} is not https`);
  if (!isIPv4(parsed.hostname)) {
    throw new Error(
      `gated's endpoint ${url} must name an IPv4 address for the Swarm egress (WARREN_GATED_HTTP=<manager address>:port, or that address first in WARREN_GATED_HTTP_SANS)`,
    );
  }
  return { name: 'gated', address: parsed.hostname, port: Number(parsed.port || 443) };
}

/** The infrastructure target a CONNECT to host:port is, or null: only an exact address and port match. PURE. */
export function infrastructureTargetOf(targets: readonly InfrastructureTarget[], host: string, port: number): InfrastructureTarget | null {
  return targets.find((t) => t.address === host && t.port === port) ?? null;
}

export function encodeSnapshot(snapshot: EgressSnapshot): string {
  return JSON.stringify(snapshot);
}

/** 16 hex characters of the encoded snapshot's SHA-256: names the Docker config, so a changed policy is a new one. */
export function snapshotDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

class SnapshotError extends Error {}

function fail(where: string, what: string): never {
  throw new SnapshotError(`egress snapshot: ${where}: ${what}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function port(v: unknown, where: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) fail(where, 'must be a port 1-65535');
  return v as number;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string' || v === '') fail(where, 'must be a non-empty string');
  return v;
}

function tenant(v: unknown, where: string): TenantPath {
  const t = str(v, where);
  const problem = tenantPathProblem(t);
  if (problem) fail(where, `invalid tenant ${JSON.stringify(t)}: ${problem}`);
  return t;
}

function entry(v: unknown, where: string): AllowlistEntry {
  if (!isRecord(v)) fail(where, 'must be an allowlist entry');
  const effect = v.effect;
  const kind = v.kind;
  if (effect !== 'allow' && effect !== 'deny') fail(where, 'effect must be allow or deny');
  if (kind !== 'exact' && kind !== 'suffix' && kind !== 'ip') fail(where, 'kind must be exact, suffix or ip');
  let ports: number[] | null = null;
  if (effect === 'allow') {
    if (!Array.isArray(v.ports) || v.ports.length === 0) fail(where, 'an allow entry must list its ports');
    ports = v.ports.map((p, i) => port(p, `${where}.ports[${i}]`));
  } else if (v.ports !== null) fail(where, 'a deny entry takes no ports');
  if (!Number.isInteger(v.line)) fail(where, 'line must be a number');
  return { text: str(v.text, `${where}.text`), effect, kind, name: str(v.name, `${where}.name`), ports, file: str(v.file, `${where}.file`), line: v.line as number };
}

function entries(v: unknown, where: string): AllowlistEntry[] {
  if (!Array.isArray(v)) fail(where, 'must be a list of entries');
  return v.map((e, i) => entry(e, `${where}[${i}]`));
}

/** The snapshot in `text`, checked field by field. Throws (naming the field) on anything unexpected. PURE. */
export function parseSnapshot(text: string): EgressSnapshot {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    fail('document', `not JSON (${(error as Error).message})`);
  }
  if (!isRecord(raw)) fail('document', 'must be an object');
  if (raw.version !== SNAPSHOT_VERSION) fail('version', `must be ${SNAPSHOT_VERSION}, got ${JSON.stringify(raw.version)}`);
  const tenants: Record<TenantPath, AllowlistState> = {};
  if (!isRecord(raw.tenants)) fail('tenants', 'must be an object');
  for (const [t, s] of Object.entries(raw.tenants)) {
    const where = `tenants[${JSON.stringify(t)}]`;
    tenant(t, where);
    if (!isRecord(s)) fail(where, 'must be an allowlist state');
    if (s.broken !== null && typeof s.broken !== 'string') fail(`${where}.broken`, 'must be null or a reason');
    tenants[t] = { entries: entries(s.entries, `${where}.entries`), broken: s.broken as string | null };
  }
  if (!Array.isArray(raw.networks)) fail('networks', 'must be a list');
  const networks = raw.networks.map((n, i): SnapshotNetwork => {
    const where = `networks[${i}]`;
    if (!isRecord(n)) fail(where, 'must be an object');
    const subnet = str(n.subnet, `${where}.subnet`);
    try {
      parseCidr(subnet);
    } catch (error) {
      fail(`${where}.subnet`, (error as Error).message);
    }
    return { tenant: tenant(n.tenant, `${where}.tenant`), network: str(n.network, `${where}.network`), subnet };
  });
  const strings = (v: unknown, where: string): string[] => {
    if (!Array.isArray(v)) fail(where, 'must be a list');
    return v.map((s, i) => str(s, `${where}[${i}]`));
  };
  const allowedRanges = strings(raw.allowedRanges, 'allowedRanges');
  for (const r of allowedRanges) {
    try {
      parseCidr(r);
    } catch (error) {
      fail('allowedRanges', (error as Error).message);
    }
  }
  const nodeAddresses = strings(raw.nodeAddresses, 'nodeAddresses');
  for (const a of nodeAddresses) if (!isIPv4(a)) fail('nodeAddresses', `not an IPv4 address: ${a}`);
  if (!Array.isArray(raw.infrastructure)) fail('infrastructure', 'must be a list');
  const infrastructure = raw.infrastructure.map((t, i): InfrastructureTarget => {
    const where = `infrastructure[${i}]`;
    if (!isRecord(t)) fail(where, 'must be an object');
    const address = str(t.address, `${where}.address`);
    if (!isIPv4(address)) fail(`${where}.address`, `not an IPv4 address: ${address}`);
    return { name: str(t.name, `${where}.name`), address, port: port(t.port, `${where}.port`) };
  });
  const dnsPort = port(raw.dnsPort, 'dnsPort');
  const proxyPort = port(raw.proxyPort, 'proxyPort');
  if (dnsPort === proxyPort) fail('proxyPort', 'must differ from dnsPort');
  return {
    version: SNAPSHOT_VERSION,
    instance: str(raw.instance, 'instance'),
    dnsPort,
    proxyPort,
    base: entries(raw.base, 'base'),
    tenants,
    networks,
    allowedRanges,
    nodeAddresses,
    infrastructure,
  };
}

/** A lookup for egressPolicyFor over a snapshot: the same answers the registry gave the manager. */
export function snapshotLookup(snapshot: EgressSnapshot): (t: TenantPath) => AllowlistState | null {
  return (t) => (Object.hasOwn(snapshot.tenants, t) ? snapshot.tenants[t]! : null);
}
