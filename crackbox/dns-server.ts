// crackbox's DNS server: the only resolver a tenant container has. The tenant is decided by the LOCAL address a query
// arrived on (each tenant network's gateway address), never by anything in the packet. Allowed names are forwarded
// upstream; denied names get NXDOMAIN without any upstream query, so a denied name cannot carry data out through DNS.
// The behaviour table is in docs/egress.md.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server as TcpServer, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question as DnsQuestion } from 'dns-packet';
import { normalizeHost } from '../core/allowlist.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { TenantPath } from '../core/tenant-path.js';
import { DEFAULT_TTL_LIMITS, type ResolvedAddressBook, type TtlLimits } from './address-book.js';
import type { DnsUpstream } from './dns-upstream.js';
import { decideName, policyOrDenyAll, type EgressPolicy } from './egress-policy.js';
import { nullSink, type EgressSink } from './egress-log.js';
import { addressesFor } from './resolver.js';
import { decodeSafely, frameReader } from './dns-wire.js';

export { Resolver, ResolveError } from './resolver.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const OPCODE_MASK = 0xf << 11;
/** Without EDNS (which we neither send nor return) a UDP answer is at most 512 bytes; larger ones are truncated. */
export const MAX_UDP_RESPONSE = 512;

export interface DnsServerOptions {
  /** 53 in production; 0 picks a free port at the first listen and reuses it for every address. */
  port: number;
  upstream: DnsUpstream;
  book: ResolvedAddressBook;
  /** Which tenant a gateway address serves; null = none (the query is refused). */
  tenantForLocalAddress(address: string): TenantPath | null;
  /** Consulted on every query, so an allowlist edit applies to the next one. */
  policyFor(tenant: TenantPath): EgressPolicy;
  sink?: EgressSink;
  log?: Logger;
  /** Upstream queries in flight at once; beyond it queries get SERVFAIL instead of more sockets. */
  maxInflight?: number;
  /** Upstream queries one tenant may have in flight, so a noisy tenant cannot starve the others (default 64). */
  maxInflightPerTenant?: number;
  ttl?: TtlLimits;
  tcpIdleMs?: number;
  maxTcpConnections?: number;
}

export interface DnsStats {
  queries: number;
  malformed: number;
  refused: number;
  denied: number;
  forwarded: number;
  failed: number;
  overloaded: number;
}

/** Undoes IPv4-mapped IPv6 notation so address-keyed lookups see plain dotted quads. */
export function plainAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/i, '');
}

type Reply = { packet: Packet; log?: { name: string; allowed: boolean; rule: string; reason: string } };

export class DnsServer {
  port: number;
  readonly stats: DnsStats = { queries: 0, malformed: 0, refused: 0, denied: 0, forwarded: 0, failed: 0, overloaded: 0 };
  private readonly listeners = new Map<string, { udp: UdpSocket; tcp: TcpServer }>();
  private readonly tcpSockets = new Set<Socket>();
  private readonly sink: EgressSink;
  private readonly log: Logger;
  private readonly maxInflight: number;
  private readonly ttl: TtlLimits;
  private inflight = 0;
  private readonly inflightByTenant = new Map<TenantPath, number>();
  private readonly maxInflightPerTenant: number;

  constructor(private readonly options: DnsServerOptions) {
    this.port = options.port;
    this.sink = options.sink ?? nullSink;
    this.log = options.log ?? silentLogger();
    this.maxInflight = options.maxInflight ?? 512;
    this.maxInflightPerTenant = options.maxInflightPerTenant ?? 64;
    this.ttl = options.ttl ?? DEFAULT_TTL_LIMITS;
  }

  /** Serves UDP and TCP on `address` (a tenant network's gateway address) at this.port. */
  async listen(address: string): Promise<void> {
    if (this.listeners.has(address)) return;
    const udp = createSocket({ type: 'udp4' });
    udp.on('error', (err) => this.log.error({ err, address }, 'dns udp socket error'));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address, port: this.port, exclusive: true }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.port = udp.address().port;
    udp.on('message', (msg, rinfo) => this.serveUdp(udp, address, msg, rinfo.address, rinfo.port));
    const tcp = createServer((socket) => this.serveTcp(socket));
    tcp.maxConnections = this.options.maxTcpConnections ?? 256;
    tcp.on('error', (err) => this.log.error({ err, address }, 'dns tcp server error'));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: address, port: this.port, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      throw error;
    }
    this.listeners.set(address, { udp, tcp });
    this.log.info({ address, port: this.port }, 'dns listening');
  }

  async unlisten(address: string): Promise<void> {
    const l = this.listeners.get(address);
    if (!l) return;
    this.listeners.delete(address);
    l.udp.close();
    await new Promise<void>((resolve) => l.tcp.close(() => resolve()));
  }

  async close(): Promise<void> {
    for (const s of this.tcpSockets) s.destroy();
    await Promise.all([...this.listeners.keys()].map((a) => this.unlisten(a)));
  }

  private serveUdp(socket: UdpSocket, local: string, msg: Buffer, host: string, port: number): void {
    this.answer(msg, local).then(
      (packet) => {
        if (!packet) return;
        const out = encodeForUdp(packet);
        if (out) socket.send(out, port, host, (err) => err && this.log.debug({ err }, 'dns udp send failed'));
      },
      (err: unknown) => this.log.error({ err }, 'dns query failed unexpectedly'),
    );
  }

  private serveTcp(socket: Socket): void {
    this.tcpSockets.add(socket);
    socket.on('close', () => this.tcpSockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(this.options.tcpIdleMs ?? 10_000, () => socket.destroy());
    const local = plainAddress(socket.localAddress);
    let pending = 0;
    socket.on(
      'data',
      frameReader((frame) => {
        // A client that pipelines without reading is cut off rather than allowed to queue unbounded work.
        if (++pending > 32) {
          socket.destroy();
          return false;
        }
        this.answer(frame, local).then(
          (packet) => {
            pending--;
            const out = packet && encodeSafe(packet, true);
            if (out && !socket.destroyed) socket.write(out);
          },
          (err: unknown) => {
            pending--;
            this.log.error({ err }, 'dns query failed unexpectedly');
          },
        );
      }),
    );
  }

  /** One query in, the reply to send (or null to drop it). Never throws for any input. */
  async answer(raw: Buffer, localAddress: string): Promise<Packet | null> {
    const query = decodeSafely(raw);
    if (!query || query.type !== 'query') {
      this.stats.malformed++;
      return null;
    }
    this.stats.queries++;
    let tenant: TenantPath | null = null;
    try {
      tenant = this.options.tenantForLocalAddress(localAddress);
    } catch (err) {
      this.log.error({ err, localAddress }, 'tenantForLocalAddress failed');
    }
    const reply = tenant === null ? this.refuse(query, 'no tenant') : await this.decide(query, tenant);
    if (reply.log && tenant !== null) {
      this.sink.record({ tenant, kind: 'dns', port: null, ...reply.log });
    }
    return reply.packet;
  }

  private refuse(query: DecodedPacket, why: string): Reply {
    this.stats.refused++;
    this.log.debug({ why }, 'dns query refused');
    return { packet: replyTo(query, RCODE.REFUSED) };
  }

  private async decide(query: DecodedPacket, tenant: TenantPath): Promise<Reply> {
    const opcode = (query.flags ?? 0) & OPCODE_MASK;
    if (opcode !== 0) return this.refuse(query, 'opcode other than QUERY');
    const questions = query.questions ?? [];
    if (questions.length !== 1) {
      this.stats.refused++;
      return { packet: replyTo(query, RCODE.FORMERR) };
    }
    const question = questions[0]!;
    if ((question.class ?? 'IN') !== 'IN') return this.refuse(query, 'class other than IN');
    const asked = normalizeHost(question.name);
    const name = asked.ok ? asked.name : question.name.slice(0, 255);
    const qtype = String(question.type);
    if (qtype === 'ANY') {
      this.stats.refused++;
      return {
        packet: replyTo(query, RCODE.REFUSED),
        log: { name, allowed: false, rule: 'dns-any', reason: 'ANY queries are refused' },
      };
    }
    const { policy, error } = policyOrDenyAll((t) => this.options.policyFor(t), tenant);
    if (error) this.log.error({ err: error, tenant }, 'policyFor failed; denying');
    const decision = decideName(policy, question.name);
    if (!decision.allowed || !asked.ok) {
      this.stats.denied++;
      return {
        packet: replyTo(query, RCODE.NXDOMAIN),
        log: { name, allowed: false, rule: decision.rule, reason: `${qtype}: ${decision.reason}` },
      };
    }
    const allowedLog = (reason: string) => ({ name, allowed: true, rule: decision.rule, reason: `${qtype}: ${reason}` });
    if (qtype === 'AAAA') {
      return { packet: replyTo(query, RCODE.NOERROR), log: allowedLog('answered empty (IPv6 is off)') };
    }
    // HTTPS (65) and SVCB (64) can carry address hints and ECH configs the proxy never sees: never passed through.
    if (qtype === 'UNKNOWN_65' || qtype === 'UNKNOWN_64') {
      return { packet: replyTo(query, RCODE.NOERROR), log: allowedLog('HTTPS/SVCB answered empty') };
    }
    const mine = this.inflightByTenant.get(tenant) ?? 0;
    if (this.inflight >= this.maxInflight || mine >= this.maxInflightPerTenant) {
      this.stats.overloaded++;
      return { packet: replyTo(query, RCODE.SERVFAIL), log: allowedLog('SERVFAIL: too many upstream queries in flight') };
    }
    this.inflight++;
    this.inflightByTenant.set(tenant, mine + 1);
    let response: DecodedPacket;
    try {
      response = await this.options.upstream.query({ name: asked.name, type: question.type });
    } catch (err) {
      this.stats.failed++;
      return { packet: replyTo(query, RCODE.SERVFAIL), log: allowedLog(`SERVFAIL: ${(err as Error).message}`) };
    } finally {
      this.inflight--;
      const left = (this.inflightByTenant.get(tenant) ?? 1) - 1;
      if (left > 0) this.inflightByTenant.set(tenant, left);
      else this.inflightByTenant.delete(tenant);
    }
    this.stats.forwarded++;
    const rcode = (response.flags ?? 0) & 0xf;
    const answers = (response.answers ?? []).map((a) => this.capTtl(a));
    const authorities = (response.authorities ?? []).map((a) => this.capTtl(a));
    if (qtype === 'A' && rcode === RCODE.NOERROR) {
      this.options.book.record(tenant, asked.name, addressesFor(asked.name, answers));
    }
    return {
      packet: replyTo(query, rcode, answers, authorities),
      log: allowedLog(`upstream answered rcode ${rcode} with ${answers.length} record(s)`),
    };
  }

  private capTtl(a: Answer): Answer {
    return a.type === 'OPT' ? a : { ...a, ttl: Math.min(a.ttl ?? 0, this.ttl.maxTtlSeconds) };
  }
}

/**
 * The client's question, if dns-packet can write it back faithfully (it cannot write unknown classes); otherwise no
 * question section rather than a wrong one.
 */
function echoQuestions(query: DecodedPacket): DnsQuestion[] {
  const qs = query.questions ?? [];
  return qs.every((q) => !String(q.class ?? 'IN').startsWith('UNKNOWN_')) ? qs : [];
}

/** A response with the client's id, opcode, RD bit and question. EDNS is not echoed (we do not speak it). */
export function replyTo(query: DecodedPacket, rcode: number, answers: Answer[] = [], authorities: Answer[] = []): Packet {
  const flags =
    ((query.flags ?? 0) & OPCODE_MASK) |
    (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) |
    dnsPacket.RECURSION_AVAILABLE |
    rcode;
  return { type: 'response', id: query.id, flags, questions: echoQuestions(query), answers, authorities };
}

/** Encodes, falling back to SERVFAIL (and then to no question at all) if a record cannot be written. */
function encodeSafe(packet: Packet, stream: boolean): Buffer | null {
  const encode = (p: Packet) => (stream ? dnsPacket.streamEncode(p) : dnsPacket.encode(p));
  try {
    return encode(packet);
  } catch {
    const flags = ((packet.flags ?? 0) & ~0xf) | RCODE.SERVFAIL;
    try {
      return encode({ ...packet, flags, answers: [], authorities: [], additionals: [] });
    } catch {
      try {
        return encode({ ...packet, flags, questions: [], answers: [], authorities: [], additionals: [] });
      } catch {
        return null;
      }
    }
  }
}

/** Encodes for UDP: an answer over 512 bytes goes out truncated (TC, no records) so the client retries over TCP. */
export function encodeForUdp(packet: Packet): Buffer | null {
  const out = encodeSafe(packet, false);
  if (!out || out.length <= MAX_UDP_RESPONSE) return out;
  return encodeSafe(
    { ...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: [] },
    false,
  );
}
