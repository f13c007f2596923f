// A tenant named in a tool argument, canonicalised exactly as grant rules see it, then validated as a tenant path.
import { canonicalTenantArg } from '../../core/grants/canonical.js';
import { isTenantPath, type TenantPath } from '../../core/tenant-path.js';

export function canonicalTenant(raw: string): TenantPath | null {
  const path = canonicalTenantArg(raw);
  return path !== null && isTenantPath(path) ? path : null;
}
