// From the tenant registry's view of a tenant to the allowlist state the egress policy needs. The registry keeps a
// tenant's last good configuration while a file is broken; for egress a broken allowlist is stricter: it denies
// everything (its deny entries are unknown), as does a tenant that never had a good configuration.
import * as path from 'node:path';
import { formatConfigError } from '../core/config-error.js';
import type { TenantPath } from '../core/tenant-path.js';
import { ALLOWLIST_FILE } from '../core/tree/layout.js';
import type { TenantState } from '../core/tree/types.js';
import type { AllowlistState } from './egress-policy.js';

/** The allowlist state of one tenant, or null for a tenant the registry does not know (no file, no entries). */
export function allowlistStateOf(state: TenantState | undefined): AllowlistState | null {
  if (!state) return null;
  if (!state.config) {
    const why = state.errors.map(formatConfigError)[0] ?? 'no valid configuration';
    return { entries: [], broken: `it has no valid configuration (${why})` };
  }
  const dir = state.config.dir;
  const file = path.join(dir, ALLOWLIST_FILE);
  const fault = state.errors.find((e) => e.file === file || e.file === dir);
  if (fault) return { entries: [], broken: formatConfigError(fault) };
  return { entries: state.config.allowlist, broken: null };
}

/** A lookup for egressPolicyFor over anything that can `get` tenant states (the TenantRegistry). */
export function allowlistLookup(registry: { get(tenant: TenantPath): TenantState | undefined }) {
  return (tenant: TenantPath): AllowlistState | null => allowlistStateOf(registry.get(tenant));
}
