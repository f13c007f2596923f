// What to do with an outbox row after a delivery attempt, given how many attempts it has had, how old it is and
// what the adapter answered. PURE (tested by table); gateway/channels/delivery.ts does the I/O.
import type { DeliveryOutcome } from './adapter.js';

export interface RetryPolicy {
  /** The wait after the first failed attempt; it doubles with each further one, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A row failing this many attempts, or still undelivered this long after it was written, is marked failed. */
  maxAttempts: number;
  maxAgeMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 5 * 60_000, maxAttempts: 20, maxAgeMs: 24 * 3_600_000 };

export type DeliveryStep =
  | { kind: 'delivered'; platformMessageId: string | null }
  | { kind: 'retry'; at: number; error: string }
  | { kind: 'failed'; error: string };

/** Exponential backoff after `attempts` failed attempts, or the platform's own wait when it named a longer one. */
export function retryDelay(attempts: number, policy: RetryPolicy, retryAfterMs?: number): number {
  const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  return Math.max(backoff, retryAfterMs ?? 0);
}

/**
 * `attempts` counts the attempt just made. A retryable failure waits (the platform's retryAfterMs honoured); one
 * that is not, or one past the attempt or age bound, fails the row with its last error: never dropped silently.
 */
export function planDeliveryStep(
  row: { attempts: number; createdAt: number },
  outcome: DeliveryOutcome,
  now: number,
  policy: RetryPolicy = DEFAULT_RETRY,
): DeliveryStep {
  if (outcome.ok) return { kind: 'delivered', platformMessageId: outcome.platformMessageId };
  if (!outcome.retryable) return { kind: 'failed', error: outcome.error };
  const at = now + retryDelay(row.attempts, policy, outcome.retryAfterMs);
  if (row.attempts >= policy.maxAttempts) return { kind: 'failed', error: `${outcome.error} (gave up after ${row.attempts} attempts)` };
  if (at - row.createdAt > policy.maxAgeMs) {
    return { kind: 'failed', error: `${outcome.error} (gave up: undelivered for ${Math.round((now - row.createdAt) / 60_000)} min)` };
  }
  return { kind: 'retry', at, error: outcome.error };
}
