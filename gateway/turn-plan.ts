// Pure decisions of the turn loop: what a finished run means, what it causes, and what to do with a run that was
// in flight when the gateway died. No I/O here; turns.ts carries these out.
import type { TurnResult } from '../core/turn.js';
import type { ResolvedLimits } from './limits.js';

export interface ContainerExit {
  exitCode: number | null;
  timedOut: boolean;
  oomKilled: boolean;
}

export interface RunEnd {
  /** What the runner reported with warren/submit_turn, if it did. */
  submitted: TurnResult | null;
  /** How the container ended; null when it never ran. */
  exit: ContainerExit | null;
  /** Why the container could not be run at all. */
  startError: string | null;
  limits: ResolvedLimits;
}

export type Outcome = { status: 'done'; text: string; session: string | null } | { status: 'failed'; text: string };

/** One sentence for the people and tenants waiting on a turn. A submitted result wins over how the process ended. */
export function turnOutcome(end: RunEnd): Outcome {
  const s = end.submitted;
  if (s?.status === 'ok') return { status: 'done', text: s.result, session: s.session ?? null };
  if (s?.status === 'error') return { status: 'failed', text: `the agent could not finish this turn: ${s.result}` };
  if (end.startError) return { status: 'failed', text: `the agent could not be started: ${end.startError}` };
  const x = end.exit;
  if (x?.oomKilled) return { status: 'failed', text: `the agent ran out of memory (limit ${end.limits.memory_mb} MB) and was stopped` };
  if (x?.timedOut) return { status: 'failed', text: `the agent ran out of time (limit ${end.limits.timeout_s} s) and was stopped` };
  if (x && x.exitCode !== 0) return { status: 'failed', text: `the agent stopped unexpectedly (exit code ${x.exitCode ?? 'unknown'})` };
  return { status: 'failed', text: 'the agent ended without reporting a result' };
}

export interface ClaimedMessage {
  id: number;
  kind: 'chat' | 'delegation' | 'escalation' | 'result';
  chat: string | null;
  ref: string | null;
}

export interface DelegationRef {
  id: string;
  kind: 'delegate' | 'escalate';
  from_tenant: string;
  from_topic: string;
  /** The conversation the work was handed on from; the result returns on it. */
  from_chat: string | null;
  /** How deep the handed-on work was. Its result keeps that depth, so a ping-pong between tenants hits the cap. */
  depth: number;
}

export type Effect =
  | { type: 'reply'; chat: string; text: string }
  | { type: 'result'; delegation: string; to: string; topic: string; chat: string | null; depth: number; text: string; status: 'done' | 'failed' };

/**
 * What a finished turn causes: a reply to the chat it answered (if it answered one), and the result carried back to
 * every tenant that delegated or escalated work handled in this turn.
 *
 * The reply rule: an agent that already wrote to that chat during the turn (`reply` or `send_message`, listed in
 * `sentByTurn`) has said what it meant to say there, so its final answer is not delivered to the chat a second
 * time. A failed turn is always reported, so nobody mistakes a half-done turn for a finished one. Delegation
 * results always carry the final answer: the delegator reads nothing else.
 */
export function planEffects(
  tenant: string,
  claimed: readonly ClaimedMessage[],
  delegations: ReadonlyMap<string, DelegationRef>,
  outcome: Outcome,
  sentByTurn: ReadonlySet<string> = new Set(),
): Effect[] {
  const effects: Effect[] = [];
  const failed = outcome.status === 'failed';
  const chat = [...claimed].reverse().find((m) => m.chat)?.chat ?? null;
  if (chat && (failed || !sentByTurn.has(chat))) effects.push({ type: 'reply', chat, text: failed ? `⚠ ${outcome.text}` : outcome.text });
  const seen = new Set<string>();
  for (const m of claimed) {
    if ((m.kind !== 'delegation' && m.kind !== 'escalation') || !m.ref || seen.has(m.ref)) continue;
    seen.add(m.ref);
    const d = delegations.get(m.ref);
    if (!d) continue;
    const verb = d.kind === 'delegate' ? 'delegated to' : 'escalated to';
    effects.push({
      type: 'result',
      delegation: d.id,
      to: d.from_tenant,
      topic: d.from_topic,
      chat: d.from_chat,
      depth: d.depth,
      status: outcome.status,
      text: failed ? `work ${verb} ${tenant} (${d.id}) failed: ${outcome.text}` : `result from ${tenant} (${d.id}): ${outcome.text}`,
    });
  }
  return effects;
}

/** A run found in flight at start-up: re-queue its messages once; a run that was itself a re-run fails instead. */
/**
 * The harness session a topic's turn resumes. A topic forked from another starts with the parent's session and must
 * fork it (a new session id from that state) until it has one of its own; otherwise both topics would append to one
 * conversation.
 */
export function sessionFor(topic: { session: string | null; forked_from: string | null } | undefined): {
  session: string | null;
  forkSession: boolean;
} {
  const session = topic?.session ?? null;
  return { session, forkSession: session !== null && session === topic?.forked_from };
}

export function recoveryFor(run: { attempt: number }): 'requeue' | 'fail' {
  return run.attempt <= 1 ? 'requeue' : 'fail';
}
