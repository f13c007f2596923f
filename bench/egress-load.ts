// Child processes of `npm run bench:egress` (bench/egress.ts), so load, servers and crackbox do not share one event
// loop. Each role prints one JSON line when ready or done.
//   dns <host> <port> <ms> <concurrency> <name,...>   UDP load: keeps <concurrency> queries in flight for <ms>
//   upstream                                          a fake upstream resolver on 127.0.0.1: every A -> 127.0.0.50
//   bulk <host> <bytes> [MiB/s]                       a TCP server sending <bytes> to every connection, optionally
//                                                     paced to a link speed
//   fetch direct <host> <port> <bytes>                downloads <bytes> straight from the server
//   fetch proxy <host> <port> <target> <bytes>        the same through a CONNECT tunnel of the proxy at host:port
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';

const [role, ...args] = process.argv.slice(2);
const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

function dnsLoad(host: string, port: number, ms: number, concurrency: number, names: string[]): void {
  // Pre-encoded queries; the id (bytes 0-1) is rewritten per send.
  const queries = names.map((n) => dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: n, type: 'A', class: 'IN' }] }));
  const socket = createSocket('udp4');
  const sentAt = new Map<number, number>();
  let nextId = 0;
  let answered = 0;
  let lost = 0;
  let measuring = false;
  let stopped = false;
  const rcodes: Record<number, number> = {};
  const send = () => {
    if (stopped) return;
    nextId = (nextId + 1) & 0xffff;
    while (sentAt.has(nextId)) nextId = (nextId + 1) & 0xffff;
    const q = queries[nextId % queries.length]!;
    q.writeUInt16BE(nextId, 0);
    sentAt.set(nextId, Date.now());
    socket.send(q, port, host);
  };
  socket.on('message', (msg) => {
    const id = msg.readUInt16BE(0);
    if (!sentAt.delete(id)) return;
    if (measuring) {
      answered++;
      rcodes[msg[3]! & 0xf] = (rcodes[msg[3]! & 0xf] ?? 0) + 1;
    }
    send();
  });
  // A query unanswered for a second is counted lost and replaced, so the window never shrinks.
  const sweeper = setInterval(() => {
    const old = Date.now() - 1000;
    for (const [id, at] of sentAt) {
      if (at < old) {
        sentAt.delete(id);
        if (measuring) lost++;
        send();
      }
    }
  }, 100);
  socket.bind(0, '127.0.0.1', () => {
    for (let i = 0; i < concurrency; i++) send();
    // One second of warm-up, then the measured window.
    setTimeout(() => {
      measuring = true;
      const t0 = process.hrtime.bigint();
      setTimeout(() => {
        measuring = false;
        stopped = true;
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        clearInterval(sweeper);
        socket.close();
        say({ qps: answered / seconds, answered, lost, rcodes });
      }, ms);
    }, 1000);
  });
}

function upstream(): void {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    let q;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const answers = question.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 300, data: '127.0.0.50' }] : [];
    socket.send(dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: [question], answers }), rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1', () => say({ port: socket.address().port }));
}

function bulk(host: string, bytes: number, rate: number): void {
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  const server = createServer((s) => {
    s.on('error', () => s.destroy());
    let left = bytes;
    const t0 = Date.now();
    const pump = () => {
      while (left > 0) {
        // Paced: never ahead of rate MiB/s since the start (a link of that speed), checked per 1 MiB chunk.
        if (rate > 0) {
          const due = t0 + ((bytes - left) / (rate * 1024 * 1024)) * 1000;
          if (due > Date.now()) return void setTimeout(pump, due - Date.now());
        }
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  server.listen(0, host, () => say({ port: (server.address() as { port: number }).port }));
}

function download(socket: Socket, bytes: number, first: Buffer, t0: bigint): void {
  let got = first.length;
  const done = () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    say({ bytes: got, seconds, mibps: got / 1024 / 1024 / seconds });
    socket.destroy();
  };
  if (got >= bytes) return done();
  socket.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= bytes) done();
  });
  socket.on('end', () => got < bytes && done());
}

function fetch(mode: string, host: string, port: number, rest: string[]): void {
  const t0 = process.hrtime.bigint();
  const socket = connect({ host, port });
  socket.on('error', (e) => {
    say({ error: e.message });
    process.exit(1);
  });
  if (mode === 'direct') {
    socket.on('connect', () => download(socket, Number(rest[0]), Buffer.alloc(0), t0));
    return;
  }
  const [target, bytes] = rest as [string, string];
  let head = Buffer.alloc(0);
  const onHead = (d: Buffer) => {
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    socket.off('data', onHead);
    const status = head.subarray(0, end).toString().split(' ')[1];
    if (status !== '200') {
      say({ error: `proxy answered ${head.toString()}` });
      process.exit(1);
    }
    download(socket, Number(bytes), head.subarray(end + 4), t0);
  };
  socket.on('data', onHead);
  socket.on('connect', () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
}

switch (role) {
  case 'dns':
    dnsLoad(args[0]!, Number(args[1]), Number(args[2]), Number(args[3]), args[4]!.split(','));
    break;
  case 'upstream':
    upstream();
    break;
  case 'bulk':
    bulk(args[0]!, Number(args[1]), Number(args[2] ?? 0));
    break;
  case 'fetch':
    fetch(args[0]!, args[1]!, Number(args[2]), args.slice(3));
    break;
  default:
    process.stderr.write(`unknown role ${role}\n`);
    process.exit(2);
}
