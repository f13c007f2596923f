import { describe, expect, it } from 'vitest';
import { effectiveEnvironment, environmentNameProblem, FIXED_ENVIRONMENT } from '../../../core/tree/environment.js';
import { parsePersona } from '../../../core/tree/persona.js';

const F = '/t/acme/PERSONA.md';
type Env = Record<string, string>;

describe('PERSONA.md environment:', () => {
  it('reads NAME: value pairs; numbers and booleans become strings', () => {
    const text = ['---', 'env: [API_TOKEN]', 'environment:', '  ANTHROPIC_BASE_URL: https://api.internal:8443', '  RETRIES: 3', '  VERBOSE: true', '---', ''].join('\n');
    const { persona, errors } = parsePersona(text, F);
    expect(errors).toEqual([]);
    expect(persona?.frontmatter.environment).toEqual({ ANTHROPIC_BASE_URL: 'https://api.internal:8443', RETRIES: '3', VERBOSE: 'true' });
    expect(persona?.frontmatter.env).toEqual(['API_TOKEN']);
  });

  it.each([
    ['a lower-case name', 'base_url: x', 4, 'upper-case variable name'],
    ['a fixed variable', 'HTTPS_PROXY: http://evil:3128', 4, 'set by warren itself'],
    ['warren identity', 'WARREN_TENANT: acme/other', 4, 'set by warren itself'],
    ['any WARREN_ name', 'WARREN_ANYTHING: x', 4, 'set by warren itself'],
    ['a loader variable', 'LD_PRELOAD: /tmp/x.so', 4, 'set by warren itself'],
    ['a secret-looking name', 'OPENAI_API_KEY: sk-123', 4, 'looks like a secret'],
    ['a too long value', `BIG: ${'x'.repeat(4097)}`, 4, 'at most 4096 characters'],
    ['a nested map', 'NESTED: { a: 1 }', 4, '"environment.NESTED"'],
  ])('refuses %s with file:line', (_label, entry, line, message) => {
    const text = ['---', 'name: Acme', 'environment:', `  ${entry}`, '---', ''].join('\n');
    const { persona, errors } = parsePersona(text, F);
    expect(persona).toBeNull();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: F, line });
    expect(errors[0]!.message).toContain(message);
  });

  it('names every fixed variable as refused', () => {
    for (const name of FIXED_ENVIRONMENT) expect(environmentNameProblem(name), name).toMatch(/set by warren itself/);
    expect(environmentNameProblem('NODE_EXTRA_CA_CERTS')).toBeNull();
    expect(environmentNameProblem('OPENAI_BASE_URL')).toBeNull();
  });
});

describe('effectiveEnvironment', () => {
  it.each([
    ['nothing anywhere', undefined, [], {}],
    ['own only', { A: '1' }, [], { A: '1' }],
    ['inherited from the parent', undefined, [{ A: 'p' }], { A: 'p' }],
    ['own value wins over the parent', { A: 'own' }, [{ A: 'p', B: 'p' }], { A: 'own', B: 'p' }],
    ['the nearest ancestor wins over the farther', undefined, [{ A: 'parent' }, { A: 'grand', C: 'g' }], { A: 'parent', C: 'g' }],
    ['an ancestor without the key leaves others alone', { X: 'x' }, [undefined, { A: 'g' }], { X: 'x', A: 'g' }],
  ] as [string, Env | undefined, (Env | undefined)[], Env][])('%s', (_label, own, ancestors, expected) => {
    expect(effectiveEnvironment(own, ancestors)).toEqual(expected);
  });
});
