import { describe, expect, it } from 'vitest';
import { chainNames, chainTag, firewallPlan, hookProblems, ourLines, planProblems, type FirewallNetwork } from '../../crackbox/firewall-rules.js';

const ACME: FirewallNetwork = { tenant: 'acme', bridge: 'br-aaaaaaaaaaaa', subnet: '10.213.0.0/26', gateway: '10.213.0.1' };
const BETA: FirewallNetwork = { tenant: 'beta', bridge: 'br-bbbbbbbbbbbb', subnet: '10.213.0.64/26', gateway: '10.213.0.65' };
const PORTS = { dns: 53, proxy: 3128 };

describe('chain names', () => {
  it('use a short plain instance as is and hash anything else to fit iptables limits', () => {
    expect(chainNames('w0123456789ab')).toEqual({ input: 'CRACKBOX-w0123456789ab-IN', forward: 'CRACKBOX-w0123456789ab-FWD' });
    const long = chainTag('test-12345-678901');
    expect(long).toMatch(/^h[0-9a-f]{12}$/);
    expect(chainTag('test-12345-678901')).toBe(long);
    expect(chainTag('test-12345-678902')).not.toBe(long);
    for (const i of ['a', 'x'.repeat(64), 'with.dots', 'w0123456789abcdef']) {
      const { input, forward } = chainNames(i);
      expect(input.length).toBeLessThanOrEqual(28);
      expect(forward.length).toBeLessThanOrEqual(28);
    }
  });
});

describe('firewallPlan', () => {
  const plan = firewallPlan('inst', [BETA, ACME], PORTS);

  it('lets a bridge reach only DNS and the proxy on its own gateway, then drops the rest of it', () => {
    expect(plan.ipv4.rules).toEqual([
      '-A CRACKBOX-inst-IN -s 10.213.0.0/26 -d 10.213.0.1/32 -i br-aaaaaaaaaaaa -p udp -m udp --dport 53 -j ACCEPT',
      '-A CRACKBOX-inst-IN -s 10.213.0.0/26 -d 10.213.0.1/32 -i br-aaaaaaaaaaaa -p tcp -m tcp --dport 53 -j ACCEPT',
      '-A CRACKBOX-inst-IN -s 10.213.0.0/26 -d 10.213.0.1/32 -i br-aaaaaaaaaaaa -p tcp -m tcp --dport 3128 -j ACCEPT',
      '-A CRACKBOX-inst-IN -i br-aaaaaaaaaaaa -j DROP',
      '-A CRACKBOX-inst-IN -d 10.213.0.1/32 -j DROP',
      '-A CRACKBOX-inst-IN -s 10.213.0.64/26 -d 10.213.0.65/32 -i br-bbbbbbbbbbbb -p udp -m udp --dport 53 -j ACCEPT',
      '-A CRACKBOX-inst-IN -s 10.213.0.64/26 -d 10.213.0.65/32 -i br-bbbbbbbbbbbb -p tcp -m tcp --dport 53 -j ACCEPT',
      '-A CRACKBOX-inst-IN -s 10.213.0.64/26 -d 10.213.0.65/32 -i br-bbbbbbbbbbbb -p tcp -m tcp --dport 3128 -j ACCEPT',
      '-A CRACKBOX-inst-IN -i br-bbbbbbbbbbbb -j DROP',
      '-A CRACKBOX-inst-IN -d 10.213.0.65/32 -j DROP',
      '-A CRACKBOX-inst-FWD -i br-aaaaaaaaaaaa -j DROP',
      '-A CRACKBOX-inst-FWD -o br-aaaaaaaaaaaa -j DROP',
      '-A CRACKBOX-inst-FWD -i br-bbbbbbbbbbbb -j DROP',
      '-A CRACKBOX-inst-FWD -o br-bbbbbbbbbbbb -j DROP',
    ]);
    expect(plan.ipv4.hooks).toEqual([
      { parent: 'INPUT', target: 'CRACKBOX-inst-IN' },
      { parent: 'DOCKER-USER', target: 'CRACKBOX-inst-FWD' },
    ]);
  });

  it('drops all IPv6 from and to the bridges', () => {
    expect(plan.ipv6.rules).toEqual([
      '-A CRACKBOX-inst-IN -i br-aaaaaaaaaaaa -j DROP',
      '-A CRACKBOX-inst-IN -i br-bbbbbbbbbbbb -j DROP',
      '-A CRACKBOX-inst-FWD -i br-aaaaaaaaaaaa -j DROP',
      '-A CRACKBOX-inst-FWD -o br-aaaaaaaaaaaa -j DROP',
      '-A CRACKBOX-inst-FWD -i br-bbbbbbbbbbbb -j DROP',
      '-A CRACKBOX-inst-FWD -o br-bbbbbbbbbbbb -j DROP',
    ]);
    expect(plan.ipv6.hooks[1]).toEqual({ parent: 'FORWARD', target: 'CRACKBOX-inst-FWD' });
  });

  it('restore input re-declares (flushes) only our chains, then refills them', () => {
    const lines = plan.ipv4.restore.trim().split('\n');
    expect(lines[0]).toBe('*filter');
    expect(lines[1]).toBe(':CRACKBOX-inst-IN - [0:0]');
    expect(lines[2]).toBe(':CRACKBOX-inst-FWD - [0:0]');
    expect(lines.at(-1)).toBe('COMMIT');
    expect(lines.filter((l) => l.startsWith(':'))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith('-A'))).toEqual(plan.ipv4.rules);
  });

  it('with no networks: empty chains, still hooked', () => {
    const empty = firewallPlan('inst', [], PORTS, { forwardParent: { ipv4: 'FORWARD' } });
    expect(empty.ipv4.rules).toEqual([]);
    expect(empty.ipv4.hooks.map((h) => h.parent)).toEqual(['INPUT', 'FORWARD']);
  });

  it.each<[string, Partial<FirewallNetwork>, RegExp]>([
    ['a bridge name with a space', { bridge: 'br x' }, /interface name/],
    ['a bridge name with a newline', { bridge: 'br\n-F' }, /interface name/],
    ['a too long bridge name', { bridge: 'b'.repeat(16) }, /interface name/],
    ['a gateway that is not IPv4', { gateway: 'fe80::1' }, /not an IPv4/],
    ['a gateway outside the subnet', { gateway: '10.213.1.1' }, /not inside/],
    ['a bad subnet', { subnet: '10.213.0.0/40' }, /prefix/],
  ])('refuses %s', (_what, change, why) => {
    expect(() => firewallPlan('inst', [{ ...ACME, ...change }], PORTS)).toThrow(why);
  });

  it('refuses duplicate bridges or gateways and bad ports', () => {
    expect(() => firewallPlan('inst', [ACME, { ...BETA, bridge: ACME.bridge }], PORTS)).toThrow(/twice/);
    expect(() => firewallPlan('inst', [ACME, { ...BETA, gateway: ACME.gateway, subnet: ACME.subnet }], PORTS)).toThrow(/twice/);
    expect(() => firewallPlan('inst', [ACME], { dns: 0, proxy: 3128 })).toThrow(/port/);
    expect(() => firewallPlan('inst', [ACME], { dns: 53, proxy: 70000 })).toThrow(/port/);
  });
});

describe('planProblems / hookProblems', () => {
  const plan = firewallPlan('inst', [ACME], PORTS).ipv4;
  const good = [
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':DOCKER-USER - [0:0]',
    ':CRACKBOX-inst-IN - [0:0]',
    ':CRACKBOX-inst-FWD - [0:0]',
    '-A INPUT -j CRACKBOX-other-IN',
    '-A INPUT -j CRACKBOX-inst-IN',
    '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
    '-A DOCKER-USER -j CRACKBOX-inst-FWD',
    '-A DOCKER-USER -j RETURN',
    ...plan.rules,
    'COMMIT',
  ].join('\n');

  it('is empty when everything is in place (other instances\' hooks above ours are fine)', () => {
    expect(planProblems(plan, good)).toEqual([]);
  });

  it.each<[string, (s: string) => string, RegExp]>([
    ['a missing chain', (s) => s.replace(':CRACKBOX-inst-FWD - [0:0]\n', ''), /chain CRACKBOX-inst-FWD is missing/],
    ['a deleted rule', (s) => s.replace(/^.*--dport 3128 -j ACCEPT\n/m, ''), /CRACKBOX-inst-IN holds 4 rule/],
    ['an extra rule', (s) => s.replace('-A CRACKBOX-inst-FWD -o', '-A CRACKBOX-inst-IN -j ACCEPT\n-A CRACKBOX-inst-FWD -o'), /CRACKBOX-inst-IN holds 6/],
    ['a changed rule', (s) => s.replace('-i br-aaaaaaaaaaaa -j DROP', '-i br-aaaaaaaaaaaa -j ACCEPT'), /differ/],
    ['a missing hook', (s) => s.replace('-A INPUT -j CRACKBOX-inst-IN\n', ''), /INPUT does not jump to CRACKBOX-inst-IN/],
    ['an ACCEPT above the hook', (s) => s.replace('-A DOCKER-USER -j CRACKBOX-inst-FWD', '-A DOCKER-USER -j ACCEPT\n-A DOCKER-USER -j CRACKBOX-inst-FWD'), /DOCKER-USER has 1 other rule/],
  ])('finds %s', (_what, edit, why) => {
    const problems = planProblems(plan, edit(good));
    expect(problems.join('\n')).toMatch(why);
  });

  it('hookProblems names the hooks that need inserting', () => {
    const bad = good.replace('-A INPUT -j CRACKBOX-inst-IN\n', '');
    expect(hookProblems(plan, bad).map((h) => h.hook)).toEqual([{ parent: 'INPUT', target: 'CRACKBOX-inst-IN' }]);
  });

  it('ourLines keeps only this instance\'s chains, rules and hooks', () => {
    const mine = ourLines('inst', good);
    expect(mine).toContain('-A INPUT -j CRACKBOX-inst-IN');
    expect(mine).not.toContain('-A INPUT -j CRACKBOX-other-IN');
    expect(mine.filter((l) => l.startsWith('-A CRACKBOX'))).toEqual(plan.rules);
  });
});
