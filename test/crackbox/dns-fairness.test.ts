// One tenant flooding the resolver with slow names cannot starve another tenant's queries.
import { describe, expect, it } from 'vitest';
import { parseAllowlist } from '../../core/allowlist.js';
import { ResolvedAddressBook } from '../../crackbox/address-book.js';
import { DnsServer, RCODE } from '../../crackbox/dns-server.js';
import { buildEgressPolicy } from '../../crackbox/egress-policy.js';
import { askUdp, query, rcodeOf } from './helpers.js';

describe('upstream fairness between tenants', () => {
  it('caps the upstream queries one tenant may have in flight', async () => {
    const entries = parseAllowlist('*.test\n', 'allowlist').entries;
    const never = new Promise<never>(() => undefined);
    const upstream = {
      // Names of the noisy tenant never answer; the quiet tenant's do.
      query: async (q: { name: string }) =>
        q.name.startsWith('slow') ? never : { id: 0, type: 'response', flags: 0, questions: [{ name: q.name, type: 'A' }], answers: [] },
    };
    const server = new DnsServer({
      port: 0,
      upstream: upstream as never,
      book: new ResolvedAddressBook(),
      maxInflight: 100,
      maxInflightPerTenant: 5,
      tenantForLocalAddress: (a) => (a === '127.0.0.61' ? 'noisy' : a === '127.0.0.62' ? 'quiet' : null),
      policyFor: (tenant) => buildEgressPolicy({ tenant, own: { entries, broken: null } }),
    });
    await server.listen('127.0.0.61');
    await server.listen('127.0.0.62');
    try {
      // Five slow queries fill the noisy tenant's share; the sixth is refused at once.
      for (let i = 0; i < 5; i++) void askUdp('127.0.0.61', server.port, query(`slow${i}.test`), 500).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      expect(rcodeOf(await askUdp('127.0.0.61', server.port, query('slow9.test')))).toBe(RCODE.SERVFAIL);
      expect(rcodeOf(await askUdp('127.0.0.62', server.port, query('fine.test')))).toBe(RCODE.NOERROR);
    } finally {
      await server.close();
    }
  });
});
