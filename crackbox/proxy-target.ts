// The proxy's whole decision for one target, separate from the sockets: policy (name and port), then resolution
// through the tenant's own DNS answers, then the address policy. Returns where to connect, or why not.
import { normalizeHost } from '../core/allowlist.js';
import type { TenantPath } from '../core/tenant-path.js';
import { decideConnect, deniedAddress, type EgressDecision, type EgressPolicy } from './egress-policy.js';
import { ResolveError, type Resolver } from './resolver.js';

export const ADDRESS_RULE = 'address-policy';

export type TargetCheck =
  | { ok: true; address: string; decision: EgressDecision }
  /** status 403 for a denial; 502 when the name could not be resolved (an error, not a decision). */
  | { ok: false; status: 403 | 502; decision: EgressDecision };

export interface TargetDeps {
  policy: EgressPolicy;
  resolver: Pick<Resolver, 'resolve'>;
  /** Why an address may not be connected to, or null (see address-policy.ts). */
  addressProblem(ip: string): string | null;
}

export async function checkTarget(deps: TargetDeps, tenant: TenantPath, host: string, port: number): Promise<TargetCheck> {
  const decision = decideConnect(deps.policy, host, port);
  if (!decision.allowed) return { ok: false, status: 403, decision };
  const normal = normalizeHost(host);
  if (!normal.ok) return { ok: false, status: 403, decision: { ...decision, allowed: false, reason: normal.error } };
  let candidates: string[];
  if (normal.kind === 'ip') candidates = [normal.name];
  else {
    try {
      candidates = await deps.resolver.resolve(tenant, normal.name);
    } catch (error) {
      const reason = error instanceof ResolveError ? error.message : `could not resolve ${normal.name}`;
      return { ok: false, status: 502, decision: { allowed: false, rule: decision.rule, reason } };
    }
  }
  const problems: string[] = [];
  for (const ip of candidates) {
    const denied = deniedAddress(deps.policy, ip);
    if (denied) {
      problems.push(denied.reason);
      continue;
    }
    const problem = deps.addressProblem(ip);
    if (problem) {
      problems.push(problem);
      continue;
    }
    const via = normal.kind === 'ip' ? '' : ` via ${ip}`;
    return { ok: true, address: ip, decision: { ...decision, reason: `${decision.reason}${via}` } };
  }
  const reason =
    normal.kind === 'ip'
      ? `the address is not allowed: ${problems.join('; ')}`
      : `${normal.name} resolves only to denied addresses: ${problems.join('; ')}`;
  return { ok: false, status: 403, decision: { allowed: false, rule: ADDRESS_RULE, reason } };
}

/** The body of a crackbox denial: names crackbox, the request, the tenant, the reason and the rule. */
export function denialText(method: string, target: string, tenant: string, decision: EgressDecision): string {
  return `crackbox denied ${method} ${target} for tenant ${tenant}: ${decision.reason} (rule: ${decision.rule})\n`;
}

/** A header value that is safe to send whatever the rule text holds (file paths can contain anything). */
export function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 512);
}
