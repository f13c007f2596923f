// The addresses each tenant's DNS answers gave for each name, for as long as the answer's TTL (clamped). The proxy
// only connects a tenant to an address found here for that tenant and name: no re-resolving elsewhere, no
// rebinding to an address the tenant never saw, no borrowing another tenant's answers.
import type { TenantPath } from '../core/tenant-path.js';

export interface TtlLimits {
  /** Answers are remembered at least this long, so a TTL-0 answer still serves the connect that follows it. */
  minTtlSeconds: number;
  /** And at most this long. */
  maxTtlSeconds: number;
}

export const DEFAULT_TTL_LIMITS: TtlLimits = { minTtlSeconds: 10, maxTtlSeconds: 300 };

export function clampTtl(ttl: number | undefined, limits: TtlLimits = DEFAULT_TTL_LIMITS): number {
  const t = Number.isFinite(ttl) ? Math.floor(ttl as number) : 0;
  return Math.min(limits.maxTtlSeconds, Math.max(limits.minTtlSeconds, t));
}

export class ResolvedAddressBook {
  /** key `${tenant}\n${name}` -> address -> expiry (ms since epoch). */
  private readonly entries = new Map<string, Map<string, number>>();

  constructor(
    private readonly limits: TtlLimits = DEFAULT_TTL_LIMITS,
    /** Bound on remembered names; beyond it expired entries are swept, then the oldest names are forgotten. */
    private readonly maxNames = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(tenant: TenantPath, name: string, answers: readonly { address: string; ttl?: number }[]): void {
    if (answers.length === 0) return;
    const key = `${tenant}\n${name}`;
    const at = this.now();
    const known = this.entries.get(key) ?? new Map<string, number>();
    for (const a of answers) {
      const expiry = at + clampTtl(a.ttl, this.limits) * 1000;
      known.set(a.address, Math.max(expiry, known.get(a.address) ?? 0));
    }
    this.entries.delete(key); // re-insert so Map order is least-recently-recorded first
    this.entries.set(key, known);
    if (this.entries.size > this.maxNames) this.shrink();
  }

  /** Unexpired addresses the tenant was told for this name, in the order first recorded. */
  lookup(tenant: TenantPath, name: string): string[] {
    const key = `${tenant}\n${name}`;
    const known = this.entries.get(key);
    if (!known) return [];
    const at = this.now();
    for (const [address, expiry] of known) if (expiry <= at) known.delete(address);
    if (known.size === 0) this.entries.delete(key);
    return [...known.keys()];
  }

  get size(): number {
    return this.entries.size;
  }

  private shrink(): void {
    const at = this.now();
    for (const [key, known] of this.entries) {
      for (const [address, expiry] of known) if (expiry <= at) known.delete(address);
      if (known.size === 0) this.entries.delete(key);
    }
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxNames) break;
      this.entries.delete(key);
    }
  }
}
