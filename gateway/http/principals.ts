// Who is calling the HTTP API and what each route needs. `authorize` is the one decision; every route declares a
// `Need` and the server runs it before the handler. PURE (the token table is in api-tokens.ts).
import type { TenantPath } from '../../core/tenant-path.js';

export type Access = 'read' | 'write';

export type Principal =
  | { kind: 'operator' }
  /** A token an operator issued: `access` on `scope` and every tenant below it, nothing else. */
  | { kind: 'scoped'; id: string; scope: TenantPath; access: Access };

/**
 * What a route needs. `public`: no token (health, the OpenAPI document). `operator`: the operator token only.
 * Otherwise `read` or `write` on `tenant` (taken from the path, query or body); a route without a tenant is either a
 * listing (`listing: true`: a scoped principal sees its own subtree) or operator-only.
 */
export type Need =
  | { kind: 'public' }
  | { kind: 'operator' }
  | { kind: 'tenant'; access: Access; tenant: TenantPath | null; listing?: boolean };

export type Decision =
  /** `under`: the subtree the handler must restrict its answer to (null: everything). */
  | { ok: true; under: TenantPath | null }
  | { ok: false; status: 401 | 403; error: string };

/** Whether `tenant` is `scope` or below it. */
export function withinScope(scope: TenantPath, tenant: TenantPath): boolean {
  return tenant === scope || tenant.startsWith(scope + '/');
}

export const NO_TOKEN = 'missing, unknown, revoked or expired token (Authorization: Bearer <token>)';

export function authorize(principal: Principal | null, need: Need): Decision {
  if (need.kind === 'public') return { ok: true, under: null };
  if (!principal) return { ok: false, status: 401, error: NO_TOKEN };
  if (principal.kind === 'operator') return { ok: true, under: need.kind === 'tenant' ? need.tenant : null };
  if (need.kind === 'operator') return { ok: false, status: 403, error: 'this needs the operator token' };
  if (need.access === 'write' && principal.access !== 'write') {
    return { ok: false, status: 403, error: `token ${principal.id} is read-only` };
  }
  if (need.tenant === null) {
    if (need.listing) return { ok: true, under: principal.scope };
    return { ok: false, status: 403, error: 'this needs the operator token' };
  }
  if (!withinScope(principal.scope, need.tenant)) {
    return { ok: false, status: 403, error: `token ${principal.id} reaches ${principal.scope} and below, not ${need.tenant}` };
  }
  return { ok: true, under: need.tenant };
}
