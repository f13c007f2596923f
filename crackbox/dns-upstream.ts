// Asking the configured upstream resolver one question, defensively: a fresh socket and a fresh random id per query,
// and a response counts only if it comes from the upstream address, carries our id and repeats our question. Anything
// else (spoofed, stale, garbage) is ignored until the deadline. Truncated UDP answers are retried over TCP.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIPv4 } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, RecordType } from 'dns-packet';
import { decodeSafely, frameReader } from './dns-wire.js';

export interface UpstreamAddress {
  host: string;
  port: number;
}

/** Parses "a.b.c.d:port" (IPv4 only; IPv6 is off). Throws on anything else. */
export function parseUpstream(spec: string): UpstreamAddress {
  const m = /^([0-9.]+):([0-9]{1,5})$/.exec(spec.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !isIPv4(m[1]!) || port < 1 || port > 65535) {
    throw new Error(`invalid DNS upstream "${spec}" (expected IPv4 a.b.c.d:port)`);
  }
  return { host: m[1]!, port };
}

export class UpstreamError extends Error {}

export interface Question {
  /** Normalised (lowercase, no trailing dot). */
  name: string;
  type: RecordType;
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
}

/** Is `packet` the answer to the query `id`/`question`? (Source address is checked by the caller.) PURE. */
export function isResponseTo(packet: DecodedPacket, id: number, question: Question): boolean {
  if (packet.type !== 'response' || packet.id !== id) return false;
  const qs = packet.questions ?? [];
  if (qs.length !== 1) return false;
  const q = qs[0]!;
  return sameName(q.name, question.name) && q.type === question.type && (q.class ?? 'IN') === 'IN';
}

export interface UpstreamStats {
  queries: number;
  ignoredResponses: number;
  timeouts: number;
  tcpRetries: number;
}

export class DnsUpstream {
  readonly address: UpstreamAddress;
  readonly stats: UpstreamStats = { queries: 0, ignoredResponses: 0, timeouts: 0, tcpRetries: 0 };

  constructor(
    address: string | UpstreamAddress,
    private readonly timeoutMs = 2000,
  ) {
    this.address = typeof address === 'string' ? parseUpstream(address) : address;
  }

  /** Resolves with the validated response, or rejects with UpstreamError (timeout, network error). */
  async query(question: Question): Promise<DecodedPacket> {
    this.stats.queries++;
    const deadline = Date.now() + this.timeoutMs;
    const udp = await this.queryUdp(question, deadline);
    if (!udp.flag_tc) return udp;
    this.stats.tcpRetries++;
    return this.queryTcp(question, deadline);
  }

  private queryPacket(id: number, question: Question): dnsPacket.Packet {
    return {
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name: question.name, type: question.type, class: 'IN' }],
    };
  }

  private queryUdp(question: Question, deadline: number): Promise<DecodedPacket> {
    const id = randomInt(0, 0x10000);
    const socket = createSocket('udp4');
    return new Promise<DecodedPacket>((resolve, reject) => {
      let done = false;
      const finish = (error: Error | null, packet?: DecodedPacket) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.removeAllListeners('message');
        try {
          socket.close();
        } catch {
          /* already closed */
        }
        if (error) reject(error);
        else resolve(packet!);
      };
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        finish(new UpstreamError(`upstream ${this.address.host}:${this.address.port} did not answer in time`));
      }, Math.max(1, deadline - Date.now()));
      socket.on('error', (e) => finish(new UpstreamError(`upstream error: ${e.message}`)));
      socket.on('message', (msg, rinfo) => {
        const packet = rinfo.address === this.address.host && rinfo.port === this.address.port ? decodeSafely(msg) : null;
        if (packet && isResponseTo(packet, id, question)) finish(null, packet);
        else this.stats.ignoredResponses++;
      });
      socket.send(dnsPacket.encode(this.queryPacket(id, question)), this.address.port, this.address.host, (e) => {
        if (e) finish(new UpstreamError(`upstream send failed: ${e.message}`));
      });
    });
  }

  private queryTcp(question: Question, deadline: number): Promise<DecodedPacket> {
    const id = randomInt(0, 0x10000);
    return new Promise<DecodedPacket>((resolve, reject) => {
      const socket = connect({ host: this.address.host, port: this.address.port });
      let done = false;
      const finish = (error: Error | null, packet?: DecodedPacket) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.destroy();
        if (error) reject(error);
        else resolve(packet!);
      };
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        finish(new UpstreamError(`upstream ${this.address.host}:${this.address.port} did not answer over TCP in time`));
      }, Math.max(1, deadline - Date.now()));
      socket.on('error', (e) => finish(new UpstreamError(`upstream TCP error: ${e.message}`)));
      socket.on('close', () => finish(new UpstreamError('upstream closed the TCP connection without an answer')));
      socket.on('connect', () => socket.write(dnsPacket.streamEncode(this.queryPacket(id, question))));
      socket.on(
        'data',
        frameReader((frame) => {
          const packet = decodeSafely(frame);
          if (packet && isResponseTo(packet, id, question)) {
            finish(null, packet);
            return false;
          }
          this.stats.ignoredResponses++;
        }),
      );
    });
  }
}
