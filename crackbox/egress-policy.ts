// Which names and ports a tenant may reach. PURE: no I/O, so every decision is table-tested.
//
// Same principle as grants: a tenant's own allow entries are local to it; deny entries of the tenant AND of all its
// ancestors apply; deny always wins; an instance-wide base list (from config) is added to every tenant. A broken
// allowlist anywhere on the path denies everything, base included (fail closed).
import { normalizeHost, type AllowlistEntry } from '../core/allowlist.js';
import { ROOT, ancestorsOf, type TenantPath } from '../core/tenant-path.js';

export interface EgressDecision {
  allowed: boolean;
  /** The deciding entry and its source, e.g. `*.github.com:443 (/t/acme/allowlist:3)` or `api.x.com:443 (base)`. */
  rule: string;
  /** One sentence an agent or operator can act on. */
  reason: string;
}

export interface EgressPolicy {
  tenant: TenantPath;
  /** Allow entries that apply: the tenant's own, then the base list. */
  allows: readonly AllowlistEntry[];
  /** Deny entries that apply: the tenant's own, its ancestors' (nearest first), then the base list's. */
  denies: readonly AllowlistEntry[];
  /** Entries that came from the base list (identity), so rules can say `(base)`. */
  base: ReadonlySet<AllowlistEntry>;
  /** Why everything is denied (a broken allowlist), or null. */
  broken: string | null;
}

/** One tenant's allowlist as loaded: its entries, or broken (unreadable or invalid). */
export interface AllowlistState {
  entries: readonly AllowlistEntry[];
  /** Non-null when the file could not be read or has errors: then the tenant's egress is denied entirely. */
  broken: string | null;
}

export interface PolicyInput {
  tenant: TenantPath;
  own: AllowlistState;
  /** Ancestors' allowlists, any order; only their deny entries are used. A broken one breaks this policy too. */
  ancestors?: readonly (AllowlistState & { tenant: TenantPath })[];
  base?: readonly AllowlistEntry[];
}

export const DEFAULT_DENY_RULE = 'default-deny';
export const BROKEN_RULE = 'broken-allowlist';

export function buildEgressPolicy(input: PolicyInput): EgressPolicy {
  const base = input.base ?? [];
  // Nearest ancestor first, root last, so a denial names the closest rule.
  const depth = (t: TenantPath) => (t === ROOT ? 0 : t.split('/').length);
  const ancestors = [...(input.ancestors ?? [])].sort((a, b) => depth(b.tenant) - depth(a.tenant));
  let broken = input.own.broken ? `the allowlist of ${input.tenant} is broken (${input.own.broken})` : null;
  for (const a of ancestors) {
    if (!broken && a.broken) broken = `the allowlist of ancestor ${a.tenant} is broken (${a.broken})`;
  }
  return {
    tenant: input.tenant,
    allows: [...input.own.entries, ...base].filter((e) => e.effect === 'allow'),
    denies: [...input.own.entries, ...ancestors.flatMap((a) => a.entries), ...base].filter((e) => e.effect === 'deny'),
    base: new Set(base),
    broken,
  };
}

/**
 * The policy of `tenant` from a lookup of each tenant's allowlist (null = no allowlist file = no entries). Walks the
 * ancestors with the one tenant-path module, so inheritance matches grants.
 */
export function egressPolicyFor(
  tenant: TenantPath,
  lookup: (t: TenantPath) => AllowlistState | null,
  base: readonly AllowlistEntry[] = [],
): EgressPolicy {
  const none: AllowlistState = { entries: [], broken: null };
  return buildEgressPolicy({
    tenant,
    own: lookup(tenant) ?? none,
    ancestors: ancestorsOf(tenant).map((t) => ({ tenant: t, ...(lookup(t) ?? none) })),
    base,
  });
}

/** A policy that denies everything, for a tenant whose policy could not be built at all. */
export function denyAllPolicy(tenant: TenantPath, why: string): EgressPolicy {
  return { tenant, allows: [], denies: [], base: new Set(), broken: why };
}

/** The tenant's policy, or a deny-all one (with the error) when building it throws: a bug never opens egress. */
export function policyOrDenyAll(
  policyFor: (tenant: TenantPath) => EgressPolicy,
  tenant: TenantPath,
): { policy: EgressPolicy; error?: unknown } {
  try {
    return { policy: policyFor(tenant) };
  } catch (error) {
    return { policy: denyAllPolicy(tenant, `its policy could not be loaded (${(error as Error).message})`), error };
  }
}

export function ruleText(policy: EgressPolicy, entry: AllowlistEntry): string {
  return policy.base.has(entry) ? `${entry.text} (base)` : `${entry.text} (${entry.file}:${entry.line})`;
}

/** Does the entry's pattern cover the (normalised) host? `*.x` covers strict subdomains only, never `x` itself. */
export function entryMatches(entry: AllowlistEntry, host: { kind: 'name' | 'ip'; name: string }): boolean {
  switch (entry.kind) {
    case 'ip':
      return host.kind === 'ip' && host.name === entry.name;
    case 'exact':
      return host.kind === 'name' && host.name === entry.name;
    case 'suffix':
      return host.kind === 'name' && host.name.endsWith('.' + entry.name);
  }
}

function decide(policy: EgressPolicy, host: string, port: number | null): EgressDecision {
  const target = port === null ? host : `${host}:${port}`;
  if (policy.broken) {
    return { allowed: false, rule: BROKEN_RULE, reason: `all egress is denied: ${policy.broken}` };
  }
  const normal = normalizeHost(host);
  if (!normal.ok) return { allowed: false, rule: DEFAULT_DENY_RULE, reason: `not a valid host: ${normal.error}` };
  const deny = policy.denies.find((e) => entryMatches(e, normal));
  if (deny) return { allowed: false, rule: ruleText(policy, deny), reason: `${target} is denied by an allowlist entry` };
  const matches = policy.allows.filter((e) => entryMatches(e, normal));
  if (matches.length === 0) {
    const reason =
      normal.kind === 'ip'
        ? `IP-literal targets need their exact address in the allowlist; no entry lists ${normal.name}`
        : 'no allowlist entry matches';
    return { allowed: false, rule: DEFAULT_DENY_RULE, reason };
  }
  if (port === null) return { allowed: true, rule: ruleText(policy, matches[0]!), reason: `${host} is allowed` };
  const byPort = matches.find((e) => e.ports === null || e.ports.includes(port));
  if (byPort) return { allowed: true, rule: ruleText(policy, byPort), reason: `${target} is allowed` };
  const ports = [...new Set(matches.flatMap((e) => e.ports ?? []))].sort((a, b) => a - b);
  return {
    allowed: false,
    rule: ruleText(policy, matches[0]!),
    reason: `port ${port} is not allowed for ${normal.name} (allowed ports: ${ports.join(', ')})`,
  };
}

/** May the tenant resolve this name (DNS)? Ports do not matter here. */
export function decideName(policy: EgressPolicy, name: string): EgressDecision {
  return decide(policy, name, null);
}

/** May the tenant connect to host:port (proxy)? An IP-literal host needs an exact IP entry. */
export function decideConnect(policy: EgressPolicy, host: string, port: number): EgressDecision {
  return decide(policy, host, port);
}

/** A resolved address the tenant's (or an ancestor's, or the base) deny entries name explicitly, or null. */
export function deniedAddress(policy: EgressPolicy, ip: string): EgressDecision | null {
  const deny = policy.denies.find((e) => e.kind === 'ip' && e.name === ip);
  return deny ? { allowed: false, rule: ruleText(policy, deny), reason: `address ${ip} is denied by an allowlist entry` } : null;
}
