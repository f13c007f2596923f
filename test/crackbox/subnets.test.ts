import { describe, expect, it } from 'vitest';
import { gatewayOf, overlaps, pickSubnet, poolProblem, routesFromProcNetRoute, toCidr } from '../../crackbox/subnets.js';

describe('overlaps', () => {
  it.each([
    ['10.0.0.0/8', '10.213.0.0/16', true],
    ['10.213.0.0/26', '10.213.0.64/26', false],
    ['10.213.0.0/26', '10.213.0.63/32', true],
    ['10.213.0.0/26', '10.213.0.64/32', false],
    ['192.168.0.0/16', '10.213.0.0/16', false],
    ['10.213.1.0/24', '10.213.0.0/16', true],
  ])('%s vs %s -> %s', (a, b, want) => {
    expect(overlaps(toCidr(a), toCidr(b))).toBe(want);
    expect(overlaps(toCidr(b), toCidr(a))).toBe(want);
  });
});

describe('pickSubnet', () => {
  it.each<[string, number, string[], string | null]>([
    ['10.213.0.0/16', 26, [], '10.213.0.0/26'],
    ['10.213.0.0/16', 26, ['10.213.0.0/26'], '10.213.0.64/26'],
    ['10.213.0.0/16', 24, ['10.213.0.5/32', '10.213.1.0/24'], '10.213.2.0/24'],
    // A wide route over the start of the pool pushes past it; a default route counts for nothing.
    ['10.213.0.0/16', 24, ['10.213.0.0/23', '0.0.0.0/0'], '10.213.2.0/24'],
    // An existing network inside a candidate (e.g. a /28 somebody made) rules that candidate out.
    ['10.213.0.0/16', 24, ['10.213.0.16/28'], '10.213.1.0/24'],
    // IPv6 and junk are not collisions.
    ['10.213.0.0/16', 26, ['fd00::/64', 'garbage', ''], '10.213.0.0/26'],
    // Pool full.
    ['10.213.0.0/24', 26, ['10.213.0.0/25', '10.213.0.128/26', '10.213.0.192/27', '10.213.0.224/27'], null],
    // A host route covering the whole pool.
    ['10.213.0.0/16', 26, ['10.0.0.0/8'], null],
  ])('pool %s /%i with %j taken -> %s', (pool, prefix, taken, want) => {
    const pick = pickSubnet(pool, prefix, taken);
    expect(pick?.subnet ?? null).toBe(want);
    if (pick) expect(pick.gateway).toBe(gatewayOf(pick.subnet));
  });

  it('the gateway is the first address of the subnet', () => {
    expect(gatewayOf('10.213.0.64/26')).toBe('10.213.0.65');
    expect(pickSubnet('10.213.0.0/16', 26, ['10.213.0.0/26'])).toEqual({ subnet: '10.213.0.64/26', gateway: '10.213.0.65' });
  });

  it.each([
    ['10.213.0.0/16', 8, /between/],
    ['10.213.0.0/16', 30, /between/],
    ['10.213.0.0/24', 20, /wider than the pool/],
    ['fd00::/64', 26, /IPv6/],
    ['10.213.0.0/33', 26, /prefix/],
  ])('refuses pool %s /%i', (pool, prefix, why) => {
    expect(poolProblem(pool, prefix)).toMatch(why);
    expect(() => pickSubnet(pool, prefix, [])).toThrow(why);
  });
});

describe('routesFromProcNetRoute', () => {
  it('reads destinations and masks (little-endian hex), skipping the default route and junk', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0',
      'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0',
      'br-x\t00FAD50A\t00000000\t0001\t0\t0\t0\tC0FFFFFF\t0\t0\t0',
      'broken line',
    ].join('\n');
    expect(routesFromProcNetRoute(text)).toEqual(['192.0.2.0/24', '172.17.0.0/16', '10.213.250.0/26']);
  });
});
