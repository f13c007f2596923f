import { describe, it, expect } from 'vitest';
import { addressChecker, addressProblem, parseCidr } from '../../crackbox/address-policy.js';

const options = { allowedRanges: ['127.0.0.50/32', '10.20.0.0/16'], tenantNetworks: ['10.20.5.0/24', '172.30.0.0/16'] };

describe('addressProblem', () => {
  it.each([
    ['93.184.216.34', null],
    ['1.1.1.1', null],
    ['127.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['127.0.0.50', null], // operator-allowed
    ['127.0.0.51', /loopback/],
    ['169.254.169.254', /link-local.*metadata/],
    ['10.0.0.1', /private \(10\/8\)/],
    ['10.20.1.1', null], // inside an allowed range
    ['10.20.5.7', /tenant network/], // tenant networks stay denied even inside an allowed range
    ['172.16.0.1', /private \(172\.16\/12\)/],
    ['172.31.255.255', /private/],
    ['172.32.0.1', null],
    ['172.30.1.1', /tenant network/],
    ['192.168.1.1', /private \(192\.168\/16\)/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.255', /carrier-grade NAT/],
    ['100.128.0.1', null],
    ['0.0.0.0', /this network/],
    ['224.0.0.251', /multicast/],
    ['239.255.255.250', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['::1', /IPv6/],
    ['fe80::1', /IPv6/],
    ['fc00::1', /IPv6/],
    ['2606:4700::1111', /IPv6/],
    ['::ffff:127.0.0.1', /IPv6/],
    ['localhost', /not an IP/],
    ['127.1', /not an IP/],
    ['', /not an IP/],
  ] as const)('%s', (ip, expected) => {
    const problem = addressProblem(ip, options);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });

  it('with no allowed ranges, every special range is denied', () => {
    const c = addressChecker({ allowedRanges: [], tenantNetworks: [] });
    expect(c.problem('127.0.0.50')).toMatch(/loopback/);
    expect(c.problem('10.20.1.1')).toMatch(/private/);
  });

  it('a /0 allowed range does not open tenant networks', () => {
    const c = addressChecker({ allowedRanges: ['0.0.0.0/0'], tenantNetworks: ['10.99.0.0/24'] });
    expect(c.problem('127.0.0.1')).toBeNull();
    expect(c.problem('10.99.0.3')).toMatch(/tenant network/);
  });
});

describe('parseCidr', () => {
  it.each(['10.0.0.0/33', '10.0.0/8', 'fe80::/10', 'x/8', '10.0.0.0/8/1', '10.0.0.0/-1', '10.0.0.0/08x'])('rejects %s', (c) => {
    expect(() => parseCidr(c)).toThrow();
  });

  it('accepts a bare address as /32 and normalises the base', () => {
    expect(parseCidr('1.2.3.4')).toMatchObject({ mask: 0xffffffff });
    expect(parseCidr('10.1.2.3/8').base).toBe(parseCidr('10.0.0.0/8').base);
  });

  it('a bad operator range throws when compiled rather than widening access', () => {
    expect(() => addressChecker({ allowedRanges: ['everything'], tenantNetworks: [] })).toThrow(/invalid IPv4 range/);
  });
});

describe("the host's own addresses", () => {
  const withHost = { ...options, hostAddresses: ['203.0.113.7', '10.20.9.9', 'fe80::1'] };
  it.each([
    ['203.0.113.7', /this host's own address/],
    ['203.0.113.8', null],
    ['10.20.9.9', null], // inside an operator-allowed range: the operator's word wins
    ['198.18.0.1', /benchmarking/],
  ])('%s -> %s', (ip, expected) => {
    const problem = addressProblem(ip, withHost);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});
