import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { compileGlob, globMatches, isLiteralGlob, isStarsOnly } from '../../../core/grants/glob.js';

describe('globMatches', () => {
  const cases: [string, string, boolean][] = [
    ['reply', 'reply', true],
    ['reply', 'replyx', false],
    ['reply', 'Reply', false], // case-sensitive
    ['send_*', 'send_message', true],
    ['send_*', 'send_', true],
    ['send_*', 'reply', false],
    ['*', '', true],
    ['*', 'a/b', false],
    ['**', 'a/b/c', true],
    ['tg:*', 'tg:123', true],
    ['tg:*', 'slack:1', false],
    ['reports/*', 'reports/a.pdf', true],
    ['reports/*', 'reports/x/a.pdf', false],
    ['reports/**', 'reports/x/a.pdf', true],
    ['reports/**', 'reports', false],
    ['*.pdf', 'a.pdf', true],
    ['*.pdf', 'x/a.pdf', false],
    ['**.pdf', 'x/a.pdf', true],
    ['a.c', 'abc', false], // "." is literal, not a regex wildcard
    ['a+b', 'a+b', true],
    ['(x)', '(x)', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'a-b-c', true],
    ['a*b*c', 'a/b-c', false],
    ['a*b**c', 'ab/x/c', true],
    ['a*b**c', 'a/b/c', false],
    ['a**b*c', 'a/x/b-c', true],
    ['a**b*c', 'a/x/b/bc', true], // ** takes "/x/b/"
    ['a**b*c', 'a/x/b/c', false], // * cannot take "/"
    ['a**b*c', 'a/x/bc/', false],
    ['*/*', 'a/b', true],
    ['*/*', 'a/b/c', false],
    ['***', 'a/b', true], // a run of 3 is "**" then "*": anything
    ['x*y*z', 'xyyyz', true],
    ['x*y*z', 'xzy', false],
  ];
  for (const [glob, value, expected] of cases) {
    it(`${glob} ~ ${JSON.stringify(value)} = ${expected}`, () => {
      expect(globMatches(glob, value)).toBe(expected);
    });
  }

  it('takes linear time on hostile values (no backtracking blow-up)', () => {
    // With a backtracking regex this shape is polynomial of high degree; here it finishes at once.
    const m = compileGlob('*a*a*a*a*a*a*a*a*b');
    expect(m('a'.repeat(200_000))).toBe(false);
    expect(m('a'.repeat(200_000) + 'b')).toBe(true);
  });

  it('agrees with a reference regular expression on random globs and values', () => {
    const alphabet = fc.constantFrom('a', 'b', '/', '*', '.');
    const reference = (glob: string) => {
      const source = glob
        .split(/(\*+)/)
        .map((part, i) => (i % 2 === 1 ? (part.length >= 2 ? '[\\s\\S]*' : '[^/]*') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('');
      return new RegExp(`^${source}$`);
    };
    fc.assert(
      fc.property(fc.string({ unit: alphabet, maxLength: 8 }), fc.string({ unit: fc.constantFrom('a', 'b', '/', '.'), maxLength: 10 }), (glob, value) => {
        expect(compileGlob(glob)(value)).toBe(reference(glob).test(value));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('glob helpers', () => {
  it('isLiteralGlob', () => {
    expect(isLiteralGlob('reply')).toBe(true);
    expect(isLiteralGlob('tg:*')).toBe(false);
  });
  it('isStarsOnly', () => {
    expect(isStarsOnly('*')).toBe(true);
    expect(isStarsOnly('**')).toBe(true);
    expect(isStarsOnly('*_*')).toBe(false);
    expect(isStarsOnly('')).toBe(false);
  });
});
