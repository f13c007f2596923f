// Whether a tenant may hand a rule to a descendant with the `grant` tool: only what it holds itself, or narrower.
// The caller's own deny rules need no check here: the descendant inherits every ancestor's denies anyway.
import { globMatches, isLiteralGlob, isStarsOnly } from './glob.js';
import type { ArgPredicate, Rule } from './types.js';

export type Grantability = { ok: true } | { ok: false; reason: string };

/**
 * A deny rule is always grantable (it only narrows). An allow rule is grantable only when one of the caller's allow
 * rules covers its tool glob and each of that rule's predicates is implied by the proposed rule. Conservative:
 * anything this cannot prove to be a subset is refused, with the reason.
 */
export function grantable(callerRules: readonly Rule[], proposed: Rule): Grantability {
  if (proposed.effect === 'deny') return { ok: true };
  let closest: { held: Rule; missing: ArgPredicate } | null = null;
  for (const held of callerRules) {
    if (held.effect !== 'allow' || !toolCovers(held.tool, proposed.tool)) continue;
    const missing = held.args.find((p) => !implied(p, proposed));
    if (missing === undefined) return { ok: true };
    closest ??= { held, missing };
  }
  if (closest === null) {
    return {
      ok: false,
      reason: `you can only grant what you hold: none of your rules allows every tool "${proposed.tool}" can name`,
    };
  }
  return {
    ok: false,
    reason:
      `"${proposed.text}" is broader than what you hold: your rule "${closest.held.text}" requires ` +
      `${predicateText(closest.missing)}, so the granted rule must require the same or a literal value inside it`,
  };
}

/** The caller's tool glob covers every tool the proposed glob can match. */
function toolCovers(held: string, proposed: string): boolean {
  return isStarsOnly(held) || held === proposed || (isLiteralGlob(proposed) && globMatches(held, proposed));
}

/** Every call the proposed rule allows satisfies the caller's predicate. */
function implied(held: ArgPredicate, proposed: Rule): boolean {
  const p = proposed.args.find((a) => a.name === held.name);
  if (p === undefined) return false;
  switch (held.kind) {
    case 'absent':
      return p.kind === 'absent';
    case 'routed':
      return p.kind === 'routed';
    case 'match':
      return p.kind === 'match' && (p.glob === held.glob || (isLiteralGlob(p.glob) && globMatches(held.glob, p.glob)));
  }
}

function predicateText(p: ArgPredicate): string {
  if (p.kind === 'absent') return `!${p.name}`;
  if (p.kind === 'routed') return `${p.name}=$routed`;
  return `${p.name}=${p.glob}`;
}
