// Which secrets a tenant sees. Secrets are inherited down the folder tree: acme/support/triage sees acme's,
// acme/support's and its own, and the deepest definition of a name wins. Root is its own subtree: worlds do not
// inherit root's secrets (root holds the operator's credentials, not the worlds').
import { logger, type Logger } from '../log.js';
import { ROOT, ancestorsOf, tenantPathProblem, type TenantPath } from '../tenant-path.js';
import { SecretsError } from './errors.js';
import { secretNameProblem } from './names.js';
import type { SecretStore } from './store.js';

/** The tenants whose secrets `tenant` sees, deepest (itself) first. Never includes root for a non-root tenant. */
export function scopeChain(tenant: TenantPath): TenantPath[] {
  const problem = tenantPathProblem(tenant);
  if (problem) throw new SecretsError(`invalid tenant "${tenant}": ${problem}`);
  if (tenant === ROOT) return [ROOT];
  return [tenant, ...ancestorsOf(tenant).filter((t) => t !== ROOT)];
}

export interface Resolved<T> {
  value: T;
  /** The tenant whose definition wins. */
  definedAt: TenantPath;
  /** Shallower tenants whose definitions of the same name are shadowed, nearest first. */
  shadows: TenantPath[];
}

export interface Resolution<T> {
  byName: Map<string, Resolved<T>>;
  /** Names in `only` that no tenant in scope defines. */
  missing: string[];
  /** Stored names that are not (or no longer) valid secret names; never handed out. */
  rejected: string[];
}

/**
 * Pure resolution: `defined` maps tenant -> name -> value for (at least) the tenants of `chain` (deepest first).
 * `only`, when given, narrows the result to those names (PERSONA.md `env:`); names it lists that are not defined
 * are reported in `missing`.
 */
export function resolveScope<T>(
  defined: ReadonlyMap<TenantPath, ReadonlyMap<string, T>>,
  chain: readonly TenantPath[],
  only?: readonly string[],
): Resolution<T> {
  const wanted = only ? new Set(only) : null;
  const byName = new Map<string, Resolved<T>>();
  const rejected = new Set<string>();
  for (const tenant of chain) {
    for (const [name, value] of defined.get(tenant) ?? []) {
      if (secretNameProblem(name)) {
        rejected.add(name);
        continue;
      }
      if (wanted && !wanted.has(name)) continue;
      const have = byName.get(name);
      if (have) have.shadows.push(tenant);
      else byName.set(name, { value, definedAt: tenant, shadows: [] });
    }
  }
  const missing = wanted ? [...wanted].filter((n) => !byName.has(n)) : [];
  return { byName: new Map([...byName].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), missing, rejected: [...rejected].sort() };
}

/**
 * Resolves the secrets `tenant` sees (optionally narrowed by `only`) and opens exactly those: shadowed definitions and
 * names outside `only` are never decrypted. Throws if a value that is handed out cannot be opened.
 */
export function resolveSecrets(store: SecretStore, tenant: TenantPath, only?: readonly string[]): Resolution<string> {
  const chain = scopeChain(tenant);
  const defined = new Map(chain.map((t) => [t, new Map(store.list(t).map((i) => [i.name, i] as const))]));
  const meta = resolveScope(defined, chain, only);
  const byName = new Map<string, Resolved<string>>();
  const missing = [...meta.missing];
  for (const [name, r] of meta.byName) {
    const value = store.get(r.definedAt, name);
    // Deleted between list and get: absent, exactly as if it had never been there.
    if (value !== undefined) byName.set(name, { ...r, value });
    else if (only) missing.push(name);
  }
  return { byName, missing, rejected: meta.rejected };
}

export interface EffectiveOptions {
  /** Where to report names of `only` that are not defined (default: the "secrets" logger). */
  log?: Logger;
}

/**
 * The environment a tenant's container gets from the secrets store: name -> value, deepest definition winning,
 * narrowed to `only` when given. Names in `only` that are not defined are simply absent and reported as a warning.
 */
export function effectiveSecrets(
  store: SecretStore,
  tenant: TenantPath,
  only?: readonly string[],
  opts: EffectiveOptions = {},
): Map<string, string> {
  const r = resolveSecrets(store, tenant, only);
  if (r.missing.length > 0 || r.rejected.length > 0) {
    const log = opts.log ?? logger('secrets');
    if (r.missing.length > 0) log.warn({ tenant, missing: r.missing }, 'env names requested by PERSONA.md have no secret in scope');
    if (r.rejected.length > 0) log.warn({ tenant, rejected: r.rejected }, 'stored secrets with invalid names were not handed out');
  }
  return new Map([...r.byName].map(([name, v]) => [name, v.value]));
}
