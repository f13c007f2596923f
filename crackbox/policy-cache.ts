// Egress policies built once per tenant and kept until the tenant registry says something changed, rather than
// rebuilt on every DNS query and proxy request. A change to a tenant drops its policy and its whole subtree's
// (ancestors' deny entries and a broken ancestor apply below them), so an edit applies to the next query.
import type { AllowlistEntry } from '../core/allowlist.js';
import { isStrictDescendant, type TenantPath } from '../core/tenant-path.js';
import type { TenantState } from '../core/tree/types.js';
import { egressPolicyFor, type EgressPolicy } from './egress-policy.js';
import { allowlistLookup } from './tenant-allowlists.js';

/** What the cache needs from the TenantRegistry: current states and its change events. */
export interface RegistryView {
  get(tenant: TenantPath): TenantState | undefined;
  on(event: 'changed' | 'removed', listener: (tenant: TenantPath) => void): unknown;
  off(event: 'changed' | 'removed', listener: (tenant: TenantPath) => void): unknown;
}

export class EgressPolicyCache {
  private readonly cache = new Map<TenantPath, EgressPolicy>();
  private readonly lookup;
  private readonly onChange = (tenant: TenantPath) => this.invalidate(tenant);
  /** Bumped on every invalidation, so a policy built while a change arrives is not cached stale. */
  private generation = 0;

  constructor(
    private readonly registry: RegistryView,
    private readonly base: readonly AllowlistEntry[],
  ) {
    this.lookup = allowlistLookup(registry);
    registry.on('changed', this.onChange);
    registry.on('removed', this.onChange);
  }

  policyFor(tenant: TenantPath): EgressPolicy {
    const hit = this.cache.get(tenant);
    if (hit) return hit;
    const generation = this.generation;
    const policy = egressPolicyFor(tenant, this.lookup, this.base);
    if (generation === this.generation) this.cache.set(tenant, policy);
    return policy;
  }

  /** Drops the cached policies of `tenant` and every tenant below it (root: every tenant). */
  invalidate(tenant: TenantPath): void {
    this.generation++;
    for (const t of this.cache.keys()) {
      if (t === tenant || isStrictDescendant(t, tenant)) this.cache.delete(t);
    }
  }

  get size(): number {
    return this.cache.size;
  }

  close(): void {
    this.registry.off('changed', this.onChange);
    this.registry.off('removed', this.onChange);
    this.cache.clear();
  }
}
