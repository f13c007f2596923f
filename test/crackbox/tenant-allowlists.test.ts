import { describe, it, expect } from 'vitest';
import { parseAllowlist } from '../../core/allowlist.js';
import type { TenantState } from '../../core/tree/types.js';
import { decideConnect, egressPolicyFor } from '../../crackbox/egress-policy.js';
import { allowlistLookup, allowlistStateOf } from '../../crackbox/tenant-allowlists.js';

function state(path: string, allowlist: string, errors: TenantState['errors'] = [], good = true): TenantState {
  const dir = `/t/${path}`;
  return {
    path,
    config: good
      ? ({ path, dir, allowlist: parseAllowlist(allowlist, `${dir}/allowlist`).entries } as unknown as TenantState['config'])
      : null,
    errors,
  };
}

describe('allowlistStateOf', () => {
  it('unknown tenant: no allowlist', () => {
    expect(allowlistStateOf(undefined)).toBeNull();
  });

  it('good tenant: its entries', () => {
    const s = allowlistStateOf(state('acme', 'api.github.com'));
    expect(s?.broken).toBeNull();
    expect(s?.entries.map((e) => e.name)).toEqual(['api.github.com']);
  });

  it('an error in the allowlist file breaks it even though the registry kept the last good entries', () => {
    const s = allowlistStateOf(state('acme', 'api.github.com', [{ file: '/t/acme/allowlist', line: 2, message: 'bad' }]));
    expect(s).toEqual({ entries: [], broken: '/t/acme/allowlist:2: bad' });
  });

  it('an error in another file keeps the allowlist', () => {
    const s = allowlistStateOf(state('acme', 'api.github.com', [{ file: '/t/acme/PERSONA.md', line: 1, message: 'bad' }]));
    expect(s?.broken).toBeNull();
  });

  it('a tenant that never had a good configuration is broken', () => {
    const s = allowlistStateOf(state('acme', '', [{ file: '/t/acme/PERSONA.md', line: 1, message: 'bad' }], false));
    expect(s?.broken).toMatch(/no valid configuration.*PERSONA\.md:1: bad/);
  });

  it('feeds egressPolicyFor: a broken parent denies its children', () => {
    const states: Record<string, TenantState> = {
      acme: state('acme', '', [{ file: '/t/acme/allowlist', line: 1, message: 'bad' }]),
      'acme/support': state('acme/support', 'api.github.com'),
    };
    const policy = egressPolicyFor('acme/support', allowlistLookup({ get: (t) => states[t] }));
    expect(decideConnect(policy, 'api.github.com', 443)).toMatchObject({ allowed: false, rule: 'broken-allowlist' });
    delete states.acme;
    const fixed = egressPolicyFor('acme/support', allowlistLookup({ get: (t) => states[t] }));
    expect(decideConnect(fixed, 'api.github.com', 443).allowed).toBe(true);
  });
});
