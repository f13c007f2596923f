// Test doubles that live on loopback only: an upstream DNS server the test controls (and that counts what it is
// asked), and small DNS clients for UDP and TCP.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet, RecordType } from 'dns-packet';

/** How the fake upstream treats a name. Default: answer its A records (or NXDOMAIN when it has none). */
export type Behaviour =
  | { kind: 'answer' }
  | { kind: 'silent' }
  /** Sends a forged response first (wrong id / wrong question / from another port), then the real one. */
  | { kind: 'spoof-first'; how: 'id' | 'question' | 'source'; forged: string }
  /** Over UDP: an empty truncated response; over TCP: the real answer. */
  | { kind: 'truncate' };

export class FakeUpstream {
  port = 0;
  /** Every question received, over both transports. */
  readonly queries: { name: string; type: string; transport: 'udp' | 'tcp' }[] = [];
  readonly records = new Map<string, string[]>();
  readonly behaviour = new Map<string, Behaviour>();
  private udp!: UdpSocket;
  private tcp!: Server;
  private forger!: UdpSocket;
  private readonly sockets = new Set<Socket>();

  /** Loopback by default; the Swarm egress test puts it on the host's address on its cluster network. */
  constructor(readonly host: string = '127.0.0.1') {}

  async start(): Promise<this> {
    this.udp = createSocket('udp4');
    await new Promise<void>((r) => this.udp.bind({ address: this.host, port: 0 }, r));
    this.port = this.udp.address().port;
    this.forger = createSocket('udp4');
    await new Promise<void>((r) => this.forger.bind({ address: this.host, port: 0 }, r));
    this.udp.on('message', (msg, rinfo) => this.onUdp(msg, rinfo.address, rinfo.port));
    this.tcp = createServer((s) => this.onTcp(s));
    await new Promise<void>((r) => this.tcp.listen({ host: this.host, port: this.port }, r));
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.udp.close();
    this.forger.close();
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }

  count(name: string): number {
    return this.queries.filter((q) => q.name.toLowerCase() === name).length;
  }

  private response(query: DecodedPacket, override: { id?: number; name?: string; addresses?: string[]; tc?: boolean } = {}): Packet {
    const q = query.questions![0]!;
    const name = override.name ?? q.name;
    const addresses = override.addresses ?? this.records.get(q.name.toLowerCase()) ?? [];
    const exists = this.records.has(q.name.toLowerCase());
    const answers =
      q.type === 'A' && !override.tc
        ? addresses.map((data) => ({ type: 'A' as const, name, ttl: 60, data }))
        : q.type === 'TXT' && exists && !override.tc
          ? [{ type: 'TXT' as const, name, ttl: 60, data: 'hello' }]
          : [];
    return {
      type: 'response',
      id: override.id ?? query.id,
      flags: dnsPacket.RECURSION_AVAILABLE | (override.tc ? dnsPacket.TRUNCATED_RESPONSE : 0) | (exists ? 0 : 3),
      questions: [{ ...q, name }],
      answers,
    };
  }

  private onUdp(msg: Buffer, host: string, port: number): void {
    const query = dnsPacket.decode(msg);
    const q = query.questions![0]!;
    this.queries.push({ name: q.name, type: q.type, transport: 'udp' });
    const b = this.behaviour.get(q.name.toLowerCase()) ?? { kind: 'answer' };
    const send = (p: Packet, from = this.udp) => from.send(dnsPacket.encode(p), port, host);
    switch (b.kind) {
      case 'silent':
        return;
      case 'truncate':
        return send(this.response(query, { tc: true }));
      case 'spoof-first': {
        const forged = [b.forged];
        if (b.how === 'id') send(this.response(query, { id: (query.id! + 1) % 0x10000, addresses: forged }));
        if (b.how === 'question') send(this.response(query, { name: 'other.test', addresses: forged }));
        if (b.how === 'source') send(this.response(query, { addresses: forged }), this.forger);
        // The genuine answer follows once the forgery has surely been processed.
        setTimeout(() => send(this.response(query)), 50);
        return;
      }
      case 'answer':
        return send(this.response(query));
    }
  }

  private onTcp(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const frame = buffered.subarray(2, 2 + buffered.readUInt16BE(0));
        buffered = buffered.subarray(2 + frame.length);
        const query = dnsPacket.decode(frame);
        const q = query.questions![0]!;
        this.queries.push({ name: q.name, type: q.type, transport: 'tcp' });
        socket.write(dnsPacket.streamEncode(this.response(query)));
      }
    });
  }
}

export function query(name: string, type: RecordType | string = 'A', over: Partial<Packet> = {}): Packet {
  return {
    type: 'query',
    id: Math.floor(Math.random() * 0x10000),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as RecordType, class: 'IN' }],
    ...over,
  };
}

/** Sends one datagram to host:port and resolves with the first decodable reply (rejects after timeoutMs). */
export function askUdp(host: string, port: number, packet: Packet | Buffer, timeoutMs = 3000): Promise<DecodedPacket> {
  const socket = createSocket('udp4');
  return new Promise<DecodedPacket>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no DNS reply'));
    }, timeoutMs);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(dnsPacket.decode(msg));
    });
    socket.send(Buffer.isBuffer(packet) ? packet : dnsPacket.encode(packet), port, host);
  });
}

/** Sends framed queries over one TCP connection and resolves with the replies, in order. */
export function askTcp(host: string, port: number, packets: (Packet | Buffer)[], expected = packets.length): Promise<DecodedPacket[]> {
  return new Promise<DecodedPacket[]>((resolve, reject) => {
    const socket = connect({ host, port });
    const replies: DecodedPacket[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`only ${replies.length} of ${expected} TCP replies`));
    }, 3000);
    socket.on('error', reject);
    socket.on('connect', () => {
      for (const p of packets) {
        if (Buffer.isBuffer(p)) {
          const len = Buffer.alloc(2);
          len.writeUInt16BE(p.length);
          socket.write(Buffer.concat([len, p]));
        } else socket.write(dnsPacket.streamEncode(p));
      }
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0);
        replies.push(dnsPacket.decode(buffered.subarray(2, 2 + length)));
        buffered = buffered.subarray(2 + length);
      }
      if (replies.length >= expected) {
        clearTimeout(timer);
        socket.destroy();
        resolve(replies);
      }
    });
  });
}

export const rcodeOf = (p: DecodedPacket): number => (p.flags ?? 0) & 0xf;

/** The data of each answer record (A records: the addresses). */
export const datas = (p: DecodedPacket): unknown[] => (p.answers ?? []).map((a) => ('data' in a ? a.data : undefined));
