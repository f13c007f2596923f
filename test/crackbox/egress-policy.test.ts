import { describe, it, expect } from 'vitest';
import { parseAllowlist, type AllowlistEntry } from '../../core/allowlist.js';
import {
  buildEgressPolicy,
  decideConnect,
  decideName,
  deniedAddress,
  denyAllPolicy,
  egressPolicyFor,
  policyOrDenyAll,
  type AllowlistState,
} from '../../crackbox/egress-policy.js';

function entries(file: string, ...lines: string[]): AllowlistEntry[] {
  const { entries, errors } = parseAllowlist(lines.join('\n'), file);
  expect(errors).toEqual([]);
  return entries;
}

const files: Record<string, AllowlistState> = {
  root: { entries: entries('/t/root/allowlist', '!*.evil.example', '!evil.example', 'root-only.example'), broken: null },
  acme: {
    entries: entries('/t/acme/allowlist', '*.github.com:443', '!gist.github.com', 'acme-only.example', '!6.6.6.6'),
    broken: null,
  },
  'acme/support': {
    entries: entries(
      '/t/acme/support/allowlist',
      'api.github.com', // ports 80, 443
      'gist.github.com', // allowed here, but the parent denies it
      '*.npmjs.org:443',
      'files.example:8080,8443',
      '93.184.216.34:443',
      'sub.evil.example', // the root denies it
    ),
    broken: null,
  },
};
const base = entries('/etc/warren/egress-base', 'api.anthropic.com:443', '!blocked-by-base.example');

const lookup = (t: string) => files[t] ?? null;
const support = egressPolicyFor('acme/support', lookup, base);

describe('decideConnect for acme/support', () => {
  it.each([
    // name, port, allowed, rule
    ['api.github.com', 443, true, 'api.github.com (/t/acme/support/allowlist:1)'],
    ['API.GitHub.com.', 80, true, 'api.github.com (/t/acme/support/allowlist:1)'],
    ['api.github.com', 22, false, 'api.github.com (/t/acme/support/allowlist:1)'],
    ['gist.github.com', 443, false, '!gist.github.com (/t/acme/allowlist:2)'],
    ['registry.npmjs.org', 443, true, '*.npmjs.org:443 (/t/acme/support/allowlist:3)'],
    ['a.b.npmjs.org', 443, true, '*.npmjs.org:443 (/t/acme/support/allowlist:3)'],
    ['npmjs.org', 443, false, 'default-deny'], // *. is subdomains only
    ['registry.npmjs.org', 80, false, '*.npmjs.org:443 (/t/acme/support/allowlist:3)'],
    ['evilnpmjs.org', 443, false, 'default-deny'],
    ['files.example', 8443, true, 'files.example:8080,8443 (/t/acme/support/allowlist:4)'],
    ['files.example', 443, false, 'files.example:8080,8443 (/t/acme/support/allowlist:4)'],
    ['93.184.216.34', 443, true, '93.184.216.34:443 (/t/acme/support/allowlist:5)'],
    ['93.184.216.35', 443, false, 'default-deny'],
    ['sub.evil.example', 443, false, '!*.evil.example (/t/root/allowlist:1)'],
    ['evil.example', 443, false, '!evil.example (/t/root/allowlist:2)'],
    ['api.anthropic.com', 443, true, 'api.anthropic.com:443 (base)'],
    ['api.anthropic.com', 80, false, 'api.anthropic.com:443 (base)'],
    ['blocked-by-base.example', 443, false, '!blocked-by-base.example (base)'],
    // allow entries of ancestors are local to them: not inherited
    ['acme-only.example', 443, false, 'default-deny'],
    ['root-only.example', 443, false, 'default-deny'],
    ['github.com', 443, false, 'default-deny'],
    ['not a host', 443, false, 'default-deny'],
  ] as const)('%s:%d -> %s', (name, port, allowed, rule) => {
    const d = decideConnect(support, name, port);
    expect({ allowed: d.allowed, rule: d.rule }).toEqual({ allowed, rule });
    expect(d.reason.length).toBeGreaterThan(0);
  });

  it('explains a port mismatch with the ports that are allowed', () => {
    expect(decideConnect(support, 'files.example', 443).reason).toBe(
      'port 443 is not allowed for files.example (allowed ports: 8080, 8443)',
    );
  });

  it('explains that IP literals need an exact entry', () => {
    expect(decideConnect(support, '10.1.2.3', 443).reason).toMatch(/IP-literal targets need their exact address/);
  });
});

describe('decideName (DNS: ports do not matter)', () => {
  it.each([
    ['api.github.com', true],
    ['files.example', true],
    ['registry.npmjs.org', true],
    ['npmjs.org', false],
    ['gist.github.com', false],
    ['api.anthropic.com', true],
    ['unknown.example', false],
    ['_dmarc.example.com', false],
  ] as const)('%s -> %s', (name, allowed) => {
    expect(decideName(support, name).allowed).toBe(allowed);
  });
});

describe('inheritance and fail-closed', () => {
  it('acme gets its own allows and root denies, not its children’s allows', () => {
    const acme = egressPolicyFor('acme', lookup, base);
    expect(decideConnect(acme, 'acme-only.example', 443).allowed).toBe(true);
    expect(decideConnect(acme, 'www.github.com', 443).allowed).toBe(true);
    expect(decideConnect(acme, 'gist.github.com', 443).allowed).toBe(false);
    expect(decideConnect(acme, 'api.github.com', 80).allowed).toBe(false); // support's entry is not acme's
    expect(decideConnect(acme, 'x.evil.example', 443).rule).toBe('!*.evil.example (/t/root/allowlist:1)');
  });

  it('a tenant without an allowlist gets the base list only', () => {
    const other = egressPolicyFor('other', lookup, base);
    expect(decideConnect(other, 'api.anthropic.com', 443).allowed).toBe(true);
    expect(decideConnect(other, 'api.github.com', 443)).toMatchObject({ allowed: false, rule: 'default-deny' });
  });

  it('an empty allowlist gets the base list only', () => {
    const p = buildEgressPolicy({ tenant: 'x', own: { entries: [], broken: null }, base });
    expect(decideConnect(p, 'api.anthropic.com', 443).allowed).toBe(true);
  });

  it('a broken own allowlist denies everything, base included', () => {
    const p = egressPolicyFor('acme/support', (t) => (t === 'acme/support' ? { entries: [], broken: 'line 3: bad' } : lookup(t)), base);
    const d = decideConnect(p, 'api.anthropic.com', 443);
    expect(d).toMatchObject({ allowed: false, rule: 'broken-allowlist' });
    expect(d.reason).toContain('acme/support');
    expect(decideName(p, 'api.anthropic.com').allowed).toBe(false);
  });

  it('a broken ancestor allowlist denies everything for its descendants (its denies are unknown)', () => {
    const p = egressPolicyFor('acme/support', (t) => (t === 'root' ? { entries: [], broken: 'unreadable' } : lookup(t)), base);
    expect(decideConnect(p, 'api.github.com', 443)).toMatchObject({ allowed: false, rule: 'broken-allowlist' });
    expect(decideConnect(p, 'api.github.com', 443).reason).toContain('ancestor root');
  });

  it('denyAllPolicy denies everything', () => {
    expect(decideName(denyAllPolicy('acme', 'no config'), 'api.anthropic.com').allowed).toBe(false);
  });

  it('deny wins over an allow in the same file', () => {
    const p = buildEgressPolicy({
      tenant: 'x',
      own: { entries: entries('/f', 'api.example.com', '!api.example.com'), broken: null },
    });
    expect(decideConnect(p, 'api.example.com', 443)).toMatchObject({ allowed: false, rule: '!api.example.com (/f:2)' });
  });

  it('nearest ancestor deny is reported first', () => {
    const p = egressPolicyFor(
      'acme/support',
      (t) => ({ entries: entries(`/t/${t}/allowlist`, '!x.example'), broken: null }),
      [],
    );
    expect(decideName(p, 'x.example').rule).toBe('!x.example (/t/acme/support/allowlist:1)');
    const q = egressPolicyFor(
      'acme/support',
      (t) => (t === 'acme/support' ? null : { entries: entries(`/t/${t}/allowlist`, '!x.example'), broken: null }),
      [],
    );
    expect(decideName(q, 'x.example').rule).toBe('!x.example (/t/acme/allowlist:1)');
  });
});

describe('deniedAddress', () => {
  it('finds IP deny entries of the tenant and its ancestors', () => {
    expect(deniedAddress(support, '6.6.6.6')?.rule).toBe('!6.6.6.6 (/t/acme/allowlist:4)');
    expect(deniedAddress(support, '6.6.6.7')).toBeNull();
  });
});

describe('policyOrDenyAll', () => {
  it('passes a policy through', () => {
    expect(policyOrDenyAll(() => support, 'acme/support')).toEqual({ policy: support });
  });

  it('turns a failure into a deny-all policy and hands back the error', () => {
    const boom = new Error('boom');
    const { policy, error } = policyOrDenyAll(() => {
      throw boom;
    }, 'acme');
    expect(error).toBe(boom);
    expect(decideConnect(policy, 'api.anthropic.com', 443)).toMatchObject({ allowed: false, rule: 'broken-allowlist' });
    expect(decideConnect(policy, 'api.anthropic.com', 443).reason).toContain('boom');
  });
});
