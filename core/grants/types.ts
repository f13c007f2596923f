// The grant model shared by the parser, the evaluator, gated, and `warren grants`.
import type { Tier, TenantPath } from '../tenant-path.js';

/** Where a rule came from: shown by `warren grants explain`, in denials, and in tools/list descriptions. */
export type RuleSource =
  | { kind: 'tier-default'; tier: Tier }
  /** What a tenant's workers may do before its grants file says more (core/grants/defaults.ts). */
  | { kind: 'worker-default' }
  | { kind: 'file'; file: string; line: number; /** the tenant whose grants file holds the rule */ tenant: TenantPath };

export type ArgPredicate =
  /** `arg=glob`: the argument must be present, a string or a number, and match the glob after canonicalisation. */
  | { name: string; kind: 'match'; glob: string }
  /** `!arg`: the argument must be absent. */
  | { name: string; kind: 'absent' }
  /** `chat=$routed`: the chat (canonical) must be routed to the calling tenant (see DecisionContext). */
  | { name: string; kind: 'routed' };

export interface Rule {
  /** The rule as written (trimmed, without comment), e.g. `!send_message(chat=tg:*)`. */
  text: string;
  effect: 'allow' | 'deny';
  /** Tool-name glob. */
  tool: string;
  args: ArgPredicate[];
  source: RuleSource;
  /**
   * Set for a `worker:` line of a grants file: the rule narrows (or widens, within the tenant's own rules) what the
   * tenant's workers may do, and says nothing about the tenant itself.
   */
  role?: 'worker';
}

export interface Decision {
  allowed: boolean;
  /** The deciding rule: the first matching deny, else the first matching allow; null when nothing matched. */
  rule: Rule | null;
  /** One sentence an agent or operator can act on. */
  reason: string;
}

/** Facts the evaluator may consult that are not in the call itself (kept minimal so decisions stay pure). */
export interface DecisionContext {
  /** True when `chat` (canonical) is routed to the calling tenant; used by the `$routed` value. */
  isRoutedChat(chat: string): boolean;
}
