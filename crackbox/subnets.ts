// Which subnet a new tenant network gets. PURE: the pool, the subnet size and what is already taken go in; the first
// free subnet comes out. "Taken" is every existing Docker network's subnet, every host interface address and every
// host route (see networks.ts for where those come from), so a tenant network never shadows anything the host uses.
import { isIPv4 } from 'node:net';
import { parseCidr } from './address-policy.js';

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0) >>> 0;
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n" (a bare address is /32); throws on anything else (IPv6 included). */
export function toCidr(text: string): Cidr {
  const range = parseCidr(text);
  let prefix = 0;
  for (let m = range.mask; m !== 0; m = (m << 1) >>> 0) prefix++;
  return { base: range.base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIpv4(c.base)}/${c.prefix}`;
}

function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

/** Do the two ranges share any address? (CIDR blocks either nest or are disjoint.) */
export function overlaps(a: Cidr, b: Cidr): boolean {
  const wider = a.prefix <= b.prefix ? a : b;
  const narrower = wider === a ? b : a;
  return ((narrower.base & maskOf(wider.prefix)) >>> 0) === wider.base;
}

/** The host's address on a tenant network: the first usable address of the subnet. */
export function gatewayOf(subnet: string): string {
  const c = toCidr(subnet);
  return intToIpv4(c.base + 1);
}

export const MIN_SUBNET_PREFIX = 16;
/** /29 leaves the gateway and five containers; anything smaller is useless. */
export const MAX_SUBNET_PREFIX = 29;

/** Why a pool/prefix pair cannot work, or null. */
export function poolProblem(pool: string, prefix: number): string | null {
  let p: Cidr;
  try {
    p = toCidr(pool);
  } catch (error) {
    return (error as Error).message;
  }
  if (!Number.isInteger(prefix) || prefix < MIN_SUBNET_PREFIX || prefix > MAX_SUBNET_PREFIX) {
    return `subnet prefix /${prefix} must be between /${MIN_SUBNET_PREFIX} and /${MAX_SUBNET_PREFIX}`;
  }
  if (prefix < p.prefix) return `subnet prefix /${prefix} is wider than the pool ${pool}`;
  return null;
}

/**
 * The first /`prefix` subnet of `pool` that overlaps nothing in `taken` (CIDRs or bare addresses; IPv6 and
 * unparsable entries are ignored; a taken 0.0.0.0/0 — a default route — is not counted, as it covers everything).
 * Null when the pool is full. Throws when the pool or prefix is invalid.
 */
export function pickSubnet(pool: string, prefix: number, taken: readonly string[]): { subnet: string; gateway: string } | null {
  const problem = poolProblem(pool, prefix);
  if (problem) throw new Error(`invalid egress subnet pool: ${problem}`);
  const p = toCidr(pool);
  const used: Cidr[] = [];
  for (const t of taken) {
    const [addr] = t.split('/');
    if (!addr || !isIPv4(addr)) continue;
    try {
      const c = toCidr(t);
      if (c.prefix > 0) used.push(c);
    } catch {
      // not an IPv4 range: it cannot collide with one
    }
  }
  const step = 2 ** (32 - prefix);
  for (let base = p.base; base < p.base + size(p); base += step) {
    const candidate = { base: base >>> 0, prefix };
    if (used.some((u) => overlaps(u, candidate))) continue;
    const subnet = formatCidr(candidate);
    return { subnet, gateway: intToIpv4(candidate.base + 1) };
  }
  return null;
}

/**
 * The IPv4 routes in /proc/net/route (destination/mask as little-endian hex), as CIDRs. The default route is left
 * out (it covers everything and is not a collision). Malformed lines are skipped.
 */
export function routesFromProcNetRoute(text: string): string[] {
  const out: string[] = [];
  const le = (hex: string) => {
    const n = Number.parseInt(hex, 16);
    return ((n & 0xff) << 24) | ((n >>> 8) & 0xff) << 16 | ((n >>> 16) & 0xff) << 8 | ((n >>> 24) & 0xff);
  };
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^[0-9A-Fa-f]{8}$/.test(f[1]!) || !/^[0-9A-Fa-f]{8}$/.test(f[7]!)) continue;
    const dest = le(f[1]!) >>> 0;
    const mask = le(f[7]!) >>> 0;
    let prefix = 0;
    for (let m = mask; m !== 0; m = (m << 1) >>> 0) prefix++;
    if (prefix === 0) continue;
    out.push(`${intToIpv4(dest)}/${prefix}`);
  }
  return out;
}
