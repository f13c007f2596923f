import { describe, expect, it } from 'vitest';
import { egressConfig, upstreamFromResolvConf } from '../../crackbox/egress-config.js';

const noResolv = () => '';

describe('egressConfig', () => {
  it('has defaults: on, 10.213.0.0/16 in /26s, proxy 3128, DNS 53, the model API as base, nothing private allowed', () => {
    const c = egressConfig({}, () => 'nameserver 127.0.0.53\n');
    expect(c).toMatchObject({
      mode: 'on',
      pool: '10.213.0.0/16',
      prefix: 26,
      proxyPort: 3128,
      dnsPort: 53,
      upstream: '127.0.0.53:53',
      allowedRanges: [],
      keepNetworks: false,
    });
    expect(c.base.map((e) => e.text)).toEqual(['api.anthropic.com:443']);
  });

  it('reads every setting from the environment', () => {
    const c = egressConfig(
      {
        WARREN_EGRESS: 'external',
        WARREN_EGRESS_POOL: '172.30.0.0/20',
        WARREN_EGRESS_PREFIX: '24',
        WARREN_EGRESS_PROXY_PORT: '8888',
        WARREN_EGRESS_DNS_PORT: '5353',
        WARREN_EGRESS_UPSTREAM: '127.0.0.1:5300',
        WARREN_EGRESS_BASE: 'api.anthropic.com:443\n  *.example.com:80,443 !bad.example.com',
        WARREN_EGRESS_ALLOWED_RANGES: '10.250.0.0/24, 192.168.7.0/24',
        WARREN_EGRESS_KEEP_NETWORKS: '1',
      },
      noResolv,
    );
    expect(c).toMatchObject({
      mode: 'external',
      pool: '172.30.0.0/20',
      prefix: 24,
      proxyPort: 8888,
      dnsPort: 5353,
      upstream: '127.0.0.1:5300',
      allowedRanges: ['10.250.0.0/24', '192.168.7.0/24'],
      keepNetworks: true,
    });
    expect(c.base.map((e) => [e.text, e.effect, e.file, e.line])).toEqual([
      ['api.anthropic.com:443', 'allow', 'WARREN_EGRESS_BASE', 1],
      ['*.example.com:80,443', 'allow', 'WARREN_EGRESS_BASE', 2],
      ['!bad.example.com', 'deny', 'WARREN_EGRESS_BASE', 3],
    ]);
  });

  it('an empty base list is allowed; no resolver found leaves upstream null (crackbox then refuses to start)', () => {
    const c = egressConfig({ WARREN_EGRESS_BASE: '' }, noResolv);
    expect(c.base).toEqual([]);
    expect(c.upstream).toBeNull();
  });

  it.each([
    [{ WARREN_EGRESS: 'maybe' }, /WARREN_EGRESS must be/],
    [{ WARREN_EGRESS_POOL: '10.213.0.0' , WARREN_EGRESS_PREFIX: '26' }, /wider than the pool/],
    [{ WARREN_EGRESS_POOL: 'fd00::/48' }, /IPv6/],
    [{ WARREN_EGRESS_PREFIX: '31' }, /between/],
    [{ WARREN_EGRESS_PREFIX: 'x' }, /between/],
    [{ WARREN_EGRESS_PROXY_PORT: '0' }, /WARREN_EGRESS_PROXY_PORT must be a port/],
    [{ WARREN_EGRESS_DNS_PORT: '65536' }, /WARREN_EGRESS_DNS_PORT must be a port/],
    [{ WARREN_EGRESS_PROXY_PORT: '53' }, /both 53/],
    [{ WARREN_EGRESS_UPSTREAM: 'dns.example:53' }, /WARREN_EGRESS_UPSTREAM/],
    [{ WARREN_EGRESS_UPSTREAM: '[::1]:53' }, /WARREN_EGRESS_UPSTREAM/],
    [{ WARREN_EGRESS_BASE: 'ok.example.com *' }, /WARREN_EGRESS_BASE:2/],
    [{ WARREN_EGRESS_BASE: '!deny.example.com:443' }, /WARREN_EGRESS_BASE:1/],
    [{ WARREN_EGRESS_ALLOWED_RANGES: '10.0.0.0/8,nonsense' }, /WARREN_EGRESS_ALLOWED_RANGES/],
    [{ WARREN_EGRESS_ALLOWED_RANGES: 'fd00::/8' }, /IPv6/],
    [{ WARREN_EGRESS_KEEP_NETWORKS: 'yes' }, /KEEP_NETWORKS/],
  ])('refuses %j', (env, why) => {
    expect(() => egressConfig(env, () => 'nameserver 127.0.0.53\n')).toThrow(why);
  });
});

describe('upstreamFromResolvConf', () => {
  it.each([
    ['nameserver 10.255.255.53\n', '10.255.255.53:53'],
    ['# comment\nsearch x\nnameserver fd00::1\nnameserver 192.0.2.53\n', '192.0.2.53:53'],
    ['  nameserver\t127.0.0.53  # systemd\n', '127.0.0.53:53'],
    ['nameserver fd00::1\n', null],
    ['', null],
  ])('%j -> %s', (text, want) => {
    expect(upstreamFromResolvConf(text)).toBe(want);
  });
});
