// What each tier may do before any grants file says more. Written as rule text and parsed by the one parser, so a
// default reads exactly like a line an operator would write.
import type { Tier } from '../tenant-path.js';
import { parseRuleText } from './parse.js';
import type { ArgPredicate, Rule } from './types.js';

/** Tier 1 (worlds) may call these by default. Kept apart from ALL_TOOLS so a new tool is never a world default by accident. */
const TIER1_TOOLS: readonly string[] = Object.freeze([
  'send_message',
  'reply',
  'like',
  'send_file',
  'delegate_group',
  'escalate_group',
  'observe_group',
  'unobserve_group',
  'read_observed',
  'fork_topic',
  'create_group',
  'set_route',
  'list_routes',
  'issue_token',
  'revoke_token',
  'list_tokens',
  'grant',
  'revoke',
  'whoami',
  'list_groups',
  'spawn_worker',
  'list_workers',
  'cancel_worker',
]);

/** Every tool gated serves (a new tool is added here, and to a tier's defaults only deliberately). */
export const ALL_TOOLS: readonly string[] = Object.freeze([
  ...TIER1_TOOLS,
  // Tier 0 only (docs/web.md); a world may be granted list_vhosts for its subtree.
  'set_vhost',
  'remove_vhost',
  'list_vhosts',
]);

/** The default rules of each tier, as text. */
export const TIER_DEFAULT_TEXT: Readonly<Record<Tier, readonly string[]>> = Object.freeze({
  0: Object.freeze(['*']),
  1: TIER1_TOOLS,
  2: Object.freeze([
    'reply',
    'like',
    // Like send_message, a team sends files only to chats routed to it, or back into the current conversation.
    'send_file(chat=$routed)',
    'send_file(!chat)',
    'send_message(chat=$routed)',
    'observe_group',
    'unobserve_group',
    'read_observed',
    'escalate_group',
    'whoami',
    // A team sees and cancels its own workers, but spawns them only once granted `spawn_worker`: a world may have
    // many teams, and each worker is a container taken from the installation's shared cap.
    'list_workers',
    'cancel_worker',
  ]),
});

/**
 * What a tenant's workers may call at most, before `worker:` lines of its grants file say more: only what reads.
 * A worker's call must be allowed by these rules AND by the tenant's own, so a worker never exceeds its tenant. No
 * messaging of people, no spawning, no memory writes (its home is read-only as well): a worker's result goes back
 * to its coordinator, which alone writes and speaks for the tenant (docs/coordinator.md#workers).
 */
export const WORKER_DEFAULT_TEXT: readonly string[] = Object.freeze(['whoami', 'list_groups', 'list_workers']);

function build(tier: Tier): readonly Rule[] {
  return Object.freeze(
    TIER_DEFAULT_TEXT[tier].map((text) => {
      const parsed = parseRuleText(text, { kind: 'tier-default', tier });
      // A bad default is a programming error caught by the tests, never an operator's problem.
      if (!parsed.ok) throw new Error(`bad tier ${tier} default "${text}": ${parsed.error}`);
      return Object.freeze({ ...parsed.rule, args: Object.freeze(parsed.rule.args.map((a) => Object.freeze(a))) as ArgPredicate[] });
    }),
  );
}

const DEFAULTS: Readonly<Record<Tier, readonly Rule[]>> = { 0: build(0), 1: build(1), 2: build(2) };

const WORKER_DEFAULTS: readonly Rule[] = Object.freeze(
  WORKER_DEFAULT_TEXT.map((text) => {
    const parsed = parseRuleText(text, { kind: 'worker-default' });
    if (!parsed.ok) throw new Error(`bad worker default "${text}": ${parsed.error}`);
    return Object.freeze({ ...parsed.rule, role: 'worker' as const });
  }),
);

/** The workers' default rules, with source {kind: 'worker-default'}. */
export function workerDefaults(): readonly Rule[] {
  return WORKER_DEFAULTS;
}

/** The tier's default rules, with source {kind: 'tier-default', tier}. */
export function tierDefaults(tier: Tier): readonly Rule[] {
  return DEFAULTS[tier];
}
