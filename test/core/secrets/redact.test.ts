import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { makeDeepRedactor, makeRedactor, MIN_REDACT_LENGTH, redactDeep } from '../../../core/secrets/redact.js';

const secrets = new Map([
  ['API_KEY', 'sk-abc123'],
  ['LONG', 'sk-abc123-and-more'],
  ['PIN', '123'],
  ['QUOTED', 'pa"ss\\word'],
  ['TWIN_A', 'same-value'],
  ['TWIN_B', 'same-value'],
]);
const redact = makeRedactor(secrets);

describe('makeRedactor', () => {
  it.each([
    ['no secrets here', 'no secrets here'],
    ['key=sk-abc123.', 'key=[secret:API_KEY].'],
    ['sk-abc123sk-abc123', '[secret:API_KEY][secret:API_KEY]'],
    ['longest first: sk-abc123-and-more!', 'longest first: [secret:LONG]!'],
    ['short values are left alone: 123 and 1234', 'short values are left alone: 123 and 1234'],
    ['{"p":"pa\\"ss\\\\word"}', '{"p":"[secret:QUOTED]"}'],
    ['raw pa"ss\\word too', 'raw [secret:QUOTED] too'],
    ['twins: same-value', 'twins: [secret:TWIN_A]'],
  ])('%j -> %j', (input, output) => {
    expect(redact(input)).toBe(output);
  });

  it('leaves nothing of overlapping secrets', () => {
    const r = makeRedactor(new Map([['A', 'abcdef'], ['B', 'defghi']]));
    expect(r('xxabcdefghixx')).toBe('xx[secret:A,B]xx');
    expect(r('abcdef defghi')).toBe('[secret:A] [secret:B]');
  });

  it('does not re-redact its own markers', () => {
    const r = makeRedactor(new Map([['SECRET', 'secret']]));
    expect(r('a secret')).toBe('a [secret:SECRET]');
  });

  it('is the identity with no usable secrets', () => {
    expect(makeRedactor(new Map())('abc')).toBe('abc');
    expect(makeRedactor(new Map([['X', 'abc']]))('abc')).toBe('abc');
    expect(MIN_REDACT_LENGTH).toBe(4);
  });

  it('never leaves a secret (of at least the minimum length) in its output', () => {
    // Values use characters no marker contains, so any surviving occurrence would be a real leak.
    const value = fc.string({ unit: fc.constantFrom('x', 'y', 'z', 'Q', '!', '#', '~', 'é'), minLength: MIN_REDACT_LENGTH, maxLength: 10 });
    const filler = fc.string({ unit: fc.constantFrom('x', 'y', 'Q', ' ', 'a', '~'), maxLength: 12 });
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), fc.array(filler, { maxLength: 6 }), (values, fillers) => {
        const map = new Map(values.map((v, i) => [`S${i}`, v]));
        const text = fillers.map((f, i) => f + values[i % values.length]).join('') + values.join('xy');
        const out = makeRedactor(map)(text);
        for (const v of values) expect(out.includes(v)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});

describe('redactDeep', () => {
  it('redacts strings and keys at any depth without touching the input', () => {
    const input = { ok: 1, nested: { list: ['x sk-abc123', { 'sk-abc123': true }], n: null, b: false }, t: 'same-value' };
    const copy = structuredClone(input);
    expect(redactDeep(input, redact)).toEqual({
      ok: 1,
      nested: { list: ['x [secret:API_KEY]', { '[secret:API_KEY]': true }], n: null, b: false },
      t: '[secret:TWIN_A]',
    });
    expect(input).toEqual(copy);
  });

  it('handles cycles, Dates and Buffers', () => {
    const a: Record<string, unknown> = { s: 'sk-abc123' };
    a.self = a;
    const out = redactDeep(a, redact) as Record<string, unknown>;
    expect(out.s).toBe('[secret:API_KEY]');
    expect(out.self).toBe(out);
    expect(redactDeep({ d: new Date(0) }, redact)).toEqual({ d: '1970-01-01T00:00:00.000Z' });
    expect(JSON.stringify(makeDeepRedactor(secrets)({ b: Buffer.from('sk-abc123') }))).not.toContain('sk-abc123');
  });
});
