// A session id gated would refuse is dropped from the report, never the report itself: the turn's answer is kept.
import { describe, expect, it } from 'vitest';
import { TurnResultSchema } from '../../core/turn.js';
import { fitResult } from '../../images/agent/runner/run-turn.js';

describe('fitResult', () => {
  it.each([['x'.repeat(300)], ['sess/1'], ['-resume']])('always yields a report gated accepts (session %s)', (session) => {
    const fitted = fitResult({ status: 'ok', result: 'the answer', session });
    expect(TurnResultSchema.safeParse(fitted).success).toBe(true);
  });
});
