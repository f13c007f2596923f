// Which resolved addresses a tenant may be connected to. PURE. The allowlist decides names; this decides where a name
// may lead, so that a permitted name answering with 127.0.0.1, 169.254.169.254 or another tenant's network (DNS
// rebinding, metadata theft, lateral movement) is still refused.
import { isIP, isIPv4 } from 'node:net';

export interface AddressPolicyOptions {
  /** Operator-listed IPv4 CIDRs that are reachable even though they fall in a special-purpose range. */
  allowedRanges: readonly string[];
  /** The tenant networks (CIDRs): always denied, even inside allowedRanges — tenants never reach each other. */
  tenantNetworks: readonly string[];
  /**
   * The host's own addresses: denied unless inside allowedRanges, so an allowlisted name whose DNS an attacker
   * controls cannot lead the proxy to services the host itself runs on a public address.
   */
  hostAddresses?: readonly string[];
}

interface Range {
  base: number;
  mask: number;
  cidr: string;
  label: string;
}

/** IPv4 special-purpose ranges that are never a legitimate egress target unless the operator says so. */
const SPECIAL: readonly [string, string][] = [
  ['0.0.0.0/8', '"this network" (0/8)'],
  ['10.0.0.0/8', 'private (10/8)'],
  ['100.64.0.0/10', 'carrier-grade NAT (100.64/10)'],
  ['127.0.0.0/8', 'loopback (127/8)'],
  ['169.254.0.0/16', 'link-local (169.254/16, includes cloud metadata)'],
  ['172.16.0.0/12', 'private (172.16/12)'],
  ['192.168.0.0/16', 'private (192.168/16)'],
  ['198.18.0.0/15', 'benchmarking (198.18/15)'],
  ['224.0.0.0/4', 'multicast (224/4)'],
  ['240.0.0.0/4', 'reserved (240/4, includes broadcast)'],
];

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** Parses an IPv4 CIDR ("a.b.c.d/n", or a bare address meaning /32); throws with a clear message otherwise. */
export function parseCidr(cidr: string, label = cidr): Range {
  const [addr, bits, extra] = cidr.trim().split('/');
  if (extra !== undefined || !addr || !isIPv4(addr)) {
    if (addr && isIP(addr) === 6) throw new Error(`IPv6 range "${cidr}" is not supported (IPv6 egress is off)`);
    throw new Error(`invalid IPv4 range "${cidr}" (expected a.b.c.d/n)`);
  }
  const prefix = bits === undefined ? 32 : /^(?:[0-9]|[12][0-9]|3[0-2])$/.test(bits) ? Number(bits) : NaN;
  if (Number.isNaN(prefix)) throw new Error(`invalid prefix length in range "${cidr}" (expected 0-32)`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ipv4ToInt(addr) & mask) >>> 0, mask, cidr, label };
}

function contains(range: Range, ip: number): boolean {
  return ((ip & range.mask) >>> 0) === range.base;
}

export interface AddressChecker {
  /** Why `ip` may not be connected to, or null when it may. */
  problem(ip: string): string | null;
}

/** Compiles the options once (ranges are validated here: a bad operator range throws rather than widening access). */
export function addressChecker(options: AddressPolicyOptions): AddressChecker {
  const special = SPECIAL.map(([cidr, label]) => parseCidr(cidr, label));
  const allowed = options.allowedRanges.map((c) => parseCidr(c));
  const tenants = options.tenantNetworks.map((c) => parseCidr(c, `a tenant network (${c})`));
  const host = (options.hostAddresses ?? []).filter((a) => isIPv4(a)).map((a) => parseCidr(a, `this host's own address (${a})`));
  return {
    problem(ip: string): string | null {
      const family = isIP(ip);
      if (family === 6) return `${ip} is IPv6, and IPv6 egress is off`;
      if (family !== 4) return `"${ip}" is not an IP address`;
      const n = ipv4ToInt(ip);
      const tenant = tenants.find((r) => contains(r, n));
      if (tenant) return `${ip} is in ${tenant.label}`;
      if (allowed.some((r) => contains(r, n))) return null;
      const hit = special.find((r) => contains(r, n)) ?? host.find((r) => contains(r, n));
      return hit ? `${ip} is ${hit.label}` : null;
    },
  };
}

/** One-shot form of addressChecker(options).problem(ip). */
export function addressProblem(ip: string, options: AddressPolicyOptions): string | null {
  return addressChecker(options).problem(ip);
}
