// What happens to an outbox row after an attempt, by table.
import { describe, expect, it } from 'vitest';
import { planDeliveryStep, retryDelay, type RetryPolicy } from '../../../gateway/channels/delivery-plan.js';

const P: RetryPolicy = { baseDelayMs: 1000, maxDelayMs: 60_000, maxAttempts: 5, maxAgeMs: 3_600_000 };
const NOW = 1_000_000_000;
const fresh = (attempts: number) => ({ attempts, createdAt: NOW - 1000 });

describe('planDeliveryStep', () => {
  it.each([
    ['delivered', fresh(1), { ok: true as const, platformMessageId: '42' }, { kind: 'delivered', platformMessageId: '42' }],
    ['a retryable error, first attempt: wait the base delay', fresh(1), { ok: false as const, retryable: true, error: 'timeout' },
      { kind: 'retry', at: NOW + 1000, error: 'timeout' }],
    ['third attempt: the wait doubles twice', fresh(3), { ok: false as const, retryable: true, error: 'timeout' },
      { kind: 'retry', at: NOW + 4000, error: 'timeout' }],
    ['the platform asks for a longer wait: honoured', fresh(1), { ok: false as const, retryable: true, retryAfterMs: 30_000, error: '429' },
      { kind: 'retry', at: NOW + 30_000, error: '429' }],
    ['the platform asks for a shorter wait than the backoff: the backoff', fresh(4), { ok: false as const, retryable: true, retryAfterMs: 10, error: '429' },
      { kind: 'retry', at: NOW + 8000, error: '429' }],
    ['not retryable: failed now', fresh(1), { ok: false as const, retryable: false, error: 'chat not found' },
      { kind: 'failed', error: 'chat not found' }],
    ['out of attempts', fresh(5), { ok: false as const, retryable: true, error: 'timeout' },
      { kind: 'failed', error: 'timeout (gave up after 5 attempts)' }],
    ['too old', { attempts: 2, createdAt: NOW - 3_600_000 }, { ok: false as const, retryable: true, error: 'down' },
      { kind: 'failed', error: 'down (gave up: undelivered for 60 min)' }],
  ])('%s', (_name, row, outcome, step) => {
    expect(planDeliveryStep(row, outcome, NOW, P)).toEqual(step);
  });
});

describe('retryDelay', () => {
  it('doubles up to the cap', () => {
    expect([1, 2, 3, 6, 7, 20].map((n) => retryDelay(n, P))).toEqual([1000, 2000, 4000, 32_000, 60_000, 60_000]);
  });
});
