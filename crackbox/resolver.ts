// Name -> addresses for the proxy, through the same upstream path as the tenant's DNS and recorded in the same
// address book, so the proxy only ever connects to addresses that tenant's DNS answered for that name.
import type { Answer } from 'dns-packet';
import type { TenantPath } from '../core/tenant-path.js';
import type { ResolvedAddressBook } from './address-book.js';
import type { DnsUpstream } from './dns-upstream.js';

export class ResolveError extends Error {}

/** The A records reached from `name` through the answer's CNAME chain (bounded), with their TTLs. PURE. */
export function addressesFor(name: string, answers: readonly Answer[]): { address: string; ttl?: number }[] {
  const names = new Set([name.toLowerCase()]);
  // A chain longer than the answer itself cannot be legitimate; bounding the loop keeps a hostile answer cheap.
  for (let i = 0; i < answers.length; i++) {
    let grew = false;
    for (const a of answers) {
      if (a.type === 'CNAME' && names.has(a.name.toLowerCase()) && !names.has(String(a.data).toLowerCase())) {
        names.add(String(a.data).toLowerCase());
        grew = true;
      }
    }
    if (!grew) break;
  }
  const out: { address: string; ttl?: number }[] = [];
  for (const a of answers) {
    if (a.type === 'A' && names.has(a.name.toLowerCase()) && typeof a.data === 'string') {
      out.push({ address: a.data, ttl: a.ttl });
    }
  }
  return out;
}

export class Resolver {
  private readonly inflight = new Map<string, Promise<string[]>>();

  constructor(
    private readonly upstream: DnsUpstream,
    readonly book: ResolvedAddressBook,
  ) {}

  /**
   * The addresses `tenant` may be connected to for `name` (normalised): what its DNS answered and is still valid,
   * else a fresh upstream A query recorded for that tenant. Rejects with ResolveError when there is no address.
   */
  resolve(tenant: TenantPath, name: string): Promise<string[]> {
    const known = this.book.lookup(tenant, name);
    if (known.length > 0) return Promise.resolve(known);
    const key = `${tenant}\n${name}`;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.ask(tenant, name).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async ask(tenant: TenantPath, name: string): Promise<string[]> {
    let response;
    try {
      response = await this.upstream.query({ name, type: 'A' });
    } catch (error) {
      throw new ResolveError(`could not resolve ${name}: ${(error as Error).message}`);
    }
    const rcode = (response.flags ?? 0) & 0xf;
    if (rcode === 3) throw new ResolveError(`${name} does not exist (NXDOMAIN)`);
    if (rcode !== 0) throw new ResolveError(`could not resolve ${name}: upstream answered rcode ${rcode}`);
    const answers = addressesFor(name, response.answers ?? []);
    if (answers.length === 0) throw new ResolveError(`${name} has no IPv4 address`);
    this.book.record(tenant, name, answers);
    return this.book.lookup(tenant, name);
  }
}
