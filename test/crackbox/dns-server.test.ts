import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { queryEgressLog } from '../../crackbox/egress-log.js';
import { RCODE } from '../../crackbox/dns-server.js';
import { askTcp, askUdp, datas, query, rcodeOf } from './helpers.js';
import { ACME, BETA, startWorld, type World } from './world.js';

let w: World;
beforeAll(async () => {
  w = await startWorld({ upstreamTimeoutMs: 300 });
});
afterAll(async () => {
  await w.stop();
});
beforeEach(() => {
  w.allowlists.clear();
  w.allowlists.set('acme', ['allowed.test', '*.wild.test', 'spoof.test', 'slow.test', 'tc.test', 'big.test', 'txt.test'].join('\n'));
  w.allowlists.set('beta', 'beta-only.test');
  w.base = 'base.test';
  w.upstream.records.clear();
  w.upstream.behaviour.clear();
  w.upstream.records.set('allowed.test', ['127.0.0.50']);
  w.upstream.records.set('a.wild.test', ['127.0.0.51']);
  w.upstream.records.set('base.test', ['127.0.0.52']);
  w.upstream.records.set('beta-only.test', ['127.0.0.53']);
  w.upstream.records.set('denied.test', ['127.0.0.54']);
  w.upstream.records.set('txt.test', []);
});

const ask = (name: string, type = 'A', via = ACME) => askUdp(via, w.dns.port, query(name, type));

describe('allowed and denied names', () => {
  it('an allowed name resolves through the upstream, with the client id and question', async () => {
    const q = query('Allowed.Test', 'A');
    const r = await askUdp(ACME, w.dns.port, q);
    expect(r.id).toBe(q.id);
    expect(r.type).toBe('response');
    expect(r.questions).toEqual([{ name: 'Allowed.Test', type: 'A', class: 'IN' }]);
    expect(rcodeOf(r)).toBe(RCODE.NOERROR);
    expect(datas(r)).toEqual(['127.0.0.50']);
    expect(w.upstream.count('allowed.test')).toBeGreaterThan(0);
    expect(w.book.lookup('acme', 'allowed.test')).toEqual(['127.0.0.50']);
  });

  it('a denied name gets NXDOMAIN and the upstream never sees it', async () => {
    const before = w.upstream.queries.length;
    for (const type of ['A', 'AAAA', 'TXT', 'MX', 'UNKNOWN_65']) {
      const r = await ask('denied.test', type);
      expect(rcodeOf(r)).toBe(RCODE.NXDOMAIN);
      expect(r.answers).toEqual([]);
    }
    const r = await ask('sub.denied.test');
    expect(rcodeOf(r)).toBe(RCODE.NXDOMAIN);
    expect(w.upstream.count('denied.test')).toBe(0);
    expect(w.upstream.queries.length).toBe(before);
    expect(w.book.lookup('acme', 'denied.test')).toEqual([]);
  });

  it('*.wild.test matches subdomains, not the apex', async () => {
    expect(datas(await ask('a.wild.test'))).toEqual(['127.0.0.51']);
    expect(rcodeOf(await ask('wild.test'))).toBe(RCODE.NXDOMAIN);
    expect(w.upstream.count('wild.test')).toBe(0);
  });

  it('the base list applies to every tenant', async () => {
    expect((await ask('base.test', 'A', ACME)).answers?.length).toBe(1);
    expect((await ask('base.test', 'A', BETA)).answers?.length).toBe(1);
  });

  it('other record types of an allowed name are forwarded', async () => {
    const r = await ask('txt.test', 'TXT');
    expect(rcodeOf(r)).toBe(RCODE.NOERROR);
    expect(r.answers?.[0]?.type).toBe('TXT');
  });

  it('the upstream NXDOMAIN for an allowed name is passed on', async () => {
    expect(rcodeOf(await ask('tc.test'))).toBe(RCODE.NXDOMAIN); // tc.test has no records upstream
    expect(w.upstream.count('tc.test')).toBe(1);
  });
});

describe('per-tenant separation by local address', () => {
  it('each gateway address gets its own tenant policy and address book', async () => {
    expect((await ask('allowed.test', 'A', ACME)).answers?.length).toBe(1);
    expect(rcodeOf(await ask('allowed.test', 'A', BETA))).toBe(RCODE.NXDOMAIN);
    expect(rcodeOf(await ask('beta-only.test', 'A', ACME))).toBe(RCODE.NXDOMAIN);
    expect(datas(await ask('beta-only.test', 'A', BETA))).toEqual(['127.0.0.53']);
    expect(w.book.lookup('beta', 'allowed.test')).toEqual([]);
    expect(w.book.lookup('acme', 'beta-only.test')).toEqual([]);
  });

  it('an address serving no tenant is refused', async () => {
    const { DnsServer } = await import('../../crackbox/dns-server.js');
    const lonely = new DnsServer({
      port: 0,
      upstream: null as never,
      book: w.book,
      tenantForLocalAddress: () => null,
      policyFor: () => {
        throw new Error('must not be asked');
      },
    });
    await lonely.listen('127.0.0.4');
    try {
      const r = await askUdp('127.0.0.4', lonely.port, query('allowed.test'));
      expect(rcodeOf(r)).toBe(RCODE.REFUSED);
    } finally {
      await lonely.close();
    }
  });
});

describe('policy changes', () => {
  it('an allowlist edit applies to the next query', async () => {
    expect(rcodeOf(await ask('later.test'))).toBe(RCODE.NXDOMAIN);
    w.upstream.records.set('later.test', ['127.0.0.55']);
    w.allowlists.set('acme', 'later.test');
    expect(datas(await ask('later.test'))).toEqual(['127.0.0.55']);
    w.allowlists.set('acme', '');
    expect(rcodeOf(await ask('later.test'))).toBe(RCODE.NXDOMAIN);
  });

  it('a broken allowlist denies everything, the base list included', async () => {
    w.allowlists.set('acme', 'allowed.test\nthis is not valid\n');
    const before = w.upstream.queries.length;
    expect(rcodeOf(await ask('allowed.test'))).toBe(RCODE.NXDOMAIN);
    expect(rcodeOf(await ask('base.test'))).toBe(RCODE.NXDOMAIN);
    expect(w.upstream.queries.length).toBe(before);
    // beta is unaffected
    expect((await ask('base.test', 'A', BETA)).answers?.length).toBe(1);
  });

  it('a broken ancestor (root) allowlist denies everything below it', async () => {
    w.allowlists.set('root', '::1');
    expect(rcodeOf(await ask('base.test', 'A', BETA))).toBe(RCODE.NXDOMAIN);
    w.allowlists.delete('root');
    expect(rcodeOf(await ask('base.test', 'A', BETA))).toBe(RCODE.NOERROR);
  });
});

describe('special query types', () => {
  it('ANY is refused without an upstream query', async () => {
    const q = query('allowed.test', 'ANY');
    const r = await askUdp(ACME, w.dns.port, q);
    expect(rcodeOf(r)).toBe(RCODE.REFUSED);
    expect(r.id).toBe(q.id);
    expect(r.questions?.[0]).toMatchObject({ name: 'allowed.test', type: 'ANY' });
    expect(w.upstream.queries.filter((x) => x.type === 'ANY')).toEqual([]);
  });

  it('AAAA of an allowed name is an empty NOERROR (IPv6 is off)', async () => {
    const r = await ask('allowed.test', 'AAAA');
    expect(rcodeOf(r)).toBe(RCODE.NOERROR);
    expect(r.answers).toEqual([]);
    expect(r.questions?.[0]?.type).toBe('AAAA');
    expect(w.upstream.queries.filter((x) => x.type === 'AAAA')).toEqual([]);
  });

  it('HTTPS and SVCB are empty NOERROR and never passed through', async () => {
    for (const type of ['UNKNOWN_65', 'UNKNOWN_64']) {
      const r = await ask('allowed.test', type);
      expect(rcodeOf(r)).toBe(RCODE.NOERROR);
      expect(r.answers).toEqual([]);
      expect(r.questions?.[0]?.type).toBe(type);
    }
    expect(w.upstream.queries.filter((x) => x.type.startsWith('UNKNOWN'))).toEqual([]);
  });

  it('a non-IN class is refused', async () => {
    const r = await askUdp(ACME, w.dns.port, query('allowed.test', 'A', { questions: [{ name: 'allowed.test', type: 'A', class: 'CH' }] }));
    expect(rcodeOf(r)).toBe(RCODE.REFUSED);
  });

  it('an opcode other than QUERY is refused, with the opcode echoed', async () => {
    const q = query('allowed.test', 'A', { flags: 2 << 11 }); // STATUS
    const r = await askUdp(ACME, w.dns.port, q);
    expect(rcodeOf(r)).toBe(RCODE.REFUSED);
    expect(((r.flags ?? 0) >> 11) & 0xf).toBe(2);
  });

  it('zero or several questions are FORMERR', async () => {
    const two = query('allowed.test', 'A', {
      questions: [
        { name: 'allowed.test', type: 'A', class: 'IN' },
        { name: 'base.test', type: 'A', class: 'IN' },
      ],
    });
    expect(rcodeOf(await askUdp(ACME, w.dns.port, two))).toBe(RCODE.FORMERR);
    expect(rcodeOf(await askUdp(ACME, w.dns.port, query('x', 'A', { questions: [] })))).toBe(RCODE.FORMERR);
  });
});

describe('upstream defences', () => {
  it.each(['id', 'question', 'source'] as const)('a forged response with the wrong %s is ignored', async (how) => {
    w.upstream.records.set('spoof.test', ['127.0.0.50']);
    w.upstream.behaviour.set('spoof.test', { kind: 'spoof-first', how, forged: '169.254.169.254' });
    const r = await ask('spoof.test');
    expect(datas(r)).toEqual(['127.0.0.50']);
    expect(w.book.lookup('acme', 'spoof.test')).toEqual(['127.0.0.50']);
  });

  it('a silent upstream yields SERVFAIL', async () => {
    w.upstream.records.set('slow.test', ['127.0.0.50']);
    w.upstream.behaviour.set('slow.test', { kind: 'silent' });
    expect(rcodeOf(await ask('slow.test'))).toBe(RCODE.SERVFAIL);
  });

  it('a truncated upstream answer is retried over TCP', async () => {
    w.upstream.records.set('tc.test', ['127.0.0.57']);
    w.upstream.behaviour.set('tc.test', { kind: 'truncate' });
    const before = w.upstream.queries.length;
    const r = await ask('tc.test');
    expect(datas(r)).toEqual(['127.0.0.57']);
    expect(w.upstream.queries.slice(before).map((q) => [q.name, q.transport])).toEqual([
      ['tc.test', 'udp'],
      ['tc.test', 'tcp'],
    ]);
  });
});

describe('TCP', () => {
  it('answers framed queries, several per connection', async () => {
    const qa = query('allowed.test');
    const qb = query('denied.test', 'A', { id: (qa.id! + 1) % 0x10000 });
    const replies = await askTcp(ACME, w.dns.port, [qa, qb]);
    // Replies may come in any order over TCP (RFC 7766); clients match them by id.
    const a = replies.find((r) => r.id === qa.id);
    const b = replies.find((r) => r.id === qb.id);
    expect(datas(a!)).toEqual(['127.0.0.50']);
    expect(rcodeOf(b!)).toBe(RCODE.NXDOMAIN);
  });

  it('an answer too big for UDP is truncated there and complete over TCP', async () => {
    const many = Array.from({ length: 60 }, (_, i) => `127.0.1.${i}`);
    w.upstream.records.set('big.test', many);
    const udp = await ask('big.test');
    expect(udp.flag_tc).toBe(true);
    expect(udp.answers).toEqual([]);
    const [tcp] = await askTcp(ACME, w.dns.port, [query('big.test')]);
    expect(tcp!.answers).toHaveLength(60);
  });
});

describe('malformed input', () => {
  it('bad packets are dropped and counted, and the server keeps answering', async () => {
    const before = w.dns.stats.malformed;
    const socket = createSocket('udp4');
    const bad = [
      Buffer.alloc(0),
      Buffer.from([1, 2, 3, 4, 5]),
      // header claims one question, then a compression pointer to itself
      Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]),
      // a response (QR set) sent to the server
      dnsPacket.encode({ type: 'response', id: 7, questions: [{ name: 'allowed.test', type: 'A' }] }),
    ];
    for (const b of bad) await new Promise<void>((r) => socket.send(b, w.dns.port, ACME, () => r()));
    socket.close();
    await expect.poll(() => w.dns.stats.malformed - before).toBe(bad.length);
    expect((await ask('allowed.test')).answers?.length).toBe(1);
  });

  it('10 000 garbage datagrams do not crash it or reach the upstream', async () => {
    const upstreamBefore = w.upstream.queries.length;
    const before = w.dns.stats.malformed + w.dns.stats.queries;
    const seen = () => w.dns.stats.malformed + w.dns.stats.queries - before;
    const socket = createSocket('udp4');
    socket.on('message', () => {}); // garbage that happens to decode as a query gets an answer
    for (let i = 0; i < 10_000; i += 100) {
      for (let j = i; j < i + 100; j++) socket.send(randomBytes(1 + (j % 300)), w.dns.port, ACME);
      // Paced so the kernel's receive buffer never overflows: then every datagram must be accounted for.
      await expect.poll(seen, { interval: 5 }).toBe(i + 100);
    }
    socket.close();
    expect(seen()).toBe(10_000);
    expect((await ask('allowed.test')).answers?.length).toBe(1);
    expect(w.upstream.queries.length - upstreamBefore).toBe(1); // only that last, real query
  });

  it('garbage over TCP does not crash it', async () => {
    const before = w.dns.stats.malformed;
    const socket = connect({ host: ACME, port: w.dns.port });
    socket.on('error', () => {});
    socket.on('data', () => {});
    // two garbage frames, an empty frame, then a length prefix promising more than ever arrives
    socket.end(Buffer.from([0, 3, 1, 2, 3, 0, 5, 9, 9, 9, 9, 9, 0, 0, 0xff, 0xff, 1]));
    await new Promise((r) => socket.on('close', r));
    expect(w.dns.stats.malformed - before).toBe(3);
    const [r] = await askTcp(ACME, w.dns.port, [query('allowed.test')]);
    expect(r!.answers?.length).toBe(1);
  });
});

describe('egress log', () => {
  it('writes one row per DNS answer, allowed and denied', async () => {
    await ask('allowed.test');
    await ask('denied.test');
    w.log.flush();
    const rows = queryEgressLog(w.log.db, { tenant: 'acme', limit: 2 });
    expect(rows.map((r) => [r.kind, r.name, r.port, r.allowed])).toEqual([
      ['dns', 'denied.test', null, false],
      ['dns', 'allowed.test', null, true],
    ]);
    expect(rows[0]!.rule).toBe('default-deny');
    expect(rows[1]!.rule).toBe('allowed.test (/tenants/acme/allowlist:1)');
  });
});

describe('plausibleCounts', () => {
  it('rejects headers whose counts cannot fit in the packet', async () => {
    const { plausibleCounts } = await import('../../crackbox/dns-wire.js');
    const ok = dnsPacket.encode(query('allowed.test'));
    expect(plausibleCounts(ok)).toBe(true);
    const lying = Buffer.from(ok);
    lying.writeUInt16BE(0xffff, 6); // 65535 answers in a 30-byte packet
    expect(plausibleCounts(lying)).toBe(false);
    expect(plausibleCounts(Buffer.alloc(11))).toBe(false);
  });
});
