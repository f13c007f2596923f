import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createServer as createHttpServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { queryEgressLog } from '../../crackbox/egress-log.js';
import { parseAuthority } from '../../crackbox/proxy.js';
import { askUdp, query } from './helpers.js';
import { ACME, BETA, startWorld, type World } from './world.js';

// "Internet" targets: HTTP servers on 127.0.0.50 and 127.0.0.52, the only loopback addresses the address policy allows.
const TARGET = '127.0.0.50';
const TARGET2 = '127.0.0.52';

let w: World;
let web: Server;
let web2: Server;
let echo: TcpServer;
let port: number; // web and web2 listen on the same port
let echoPort: number;
let greeter: TcpServer;
let greeterPort: number;
let greeterHeard: Promise<string>;
let greeterHeardResolve: (s: string) => void = () => {};
let release: () => void = () => {};
const hits: { server: string; url: string; host: string | undefined }[] = [];

function listen(server: Server | TcpServer, host: string, p = 0): Promise<number> {
  return new Promise((resolve) => server.listen({ host, port: p }, () => resolve((server.address() as { port: number }).port)));
}

function target(name: string) {
  return (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    hits.push({ server: name, url: req.url ?? '', host: req.headers.host });
    if (req.url === '/sse') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      // The second event is only sent once the client has seen the first: a buffering proxy would deadlock here.
      release = () => res.end('data: two\n\n');
      return;
    }
    if (req.url?.startsWith('/echo-headers')) {
      res.writeHead(200, { 'content-type': 'application/json', connection: 'x-secret', 'x-secret': 'hop' });
      res.end(JSON.stringify(req.headers));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello from ${name}`);
  };
}

beforeAll(async () => {
  w = await startWorld({ allowedRanges: [`${TARGET}/32`, `${TARGET2}/32`] });
  web = createHttpServer(target('web'));
  port = await listen(web, TARGET);
  web2 = createHttpServer(target('web2'));
  await listen(web2, TARGET2, port);
  // Echoes what it gets; when the client half-closes, says "bye" and closes its side too.
  echo = createTcpServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end('bye'));
  });
  echoPort = await listen(echo, TARGET);
  // Half-closes first: sends a greeting and its FIN at once, then keeps reading until the client is done.
  greeter = createTcpServer({ allowHalfOpen: true }, (s) => {
    let heard = '';
    s.on('data', (d) => (heard += d.toString()));
    s.on('end', () => greeterHeardResolve(heard));
    s.end('greeting');
  });
  greeterPort = await listen(greeter, TARGET);
});

afterAll(async () => {
  await w.stop();
  web.closeAllConnections();
  web2.closeAllConnections();
  await new Promise((r) => web.close(r));
  await new Promise((r) => web2.close(r));
  await new Promise((r) => echo.close(r));
  await new Promise((r) => greeter.close(r));
});

beforeEach(() => {
  hits.length = 0;
  w.allowlists.clear();
  w.allowlists.set(
    'acme',
    [
      `allowed.test:${port},${echoPort},${greeterPort}`,
      `second.test:${port}`,
      `loop.test:${port}`,
      `meta.test:${port}`,
      `near.test:${port}`,
      `rebind.test:${port}`,
      `closed.test:1`,
    ].join('\n'),
  );
  w.allowlists.set('beta', `beta.test:${port}`);
  w.upstream.records.clear();
  w.upstream.records.set('allowed.test', [TARGET]);
  w.upstream.records.set('second.test', [TARGET2]);
  w.upstream.records.set('loop.test', ['127.0.0.1']);
  w.upstream.records.set('meta.test', ['169.254.169.254']);
  w.upstream.records.set('near.test', ['127.0.0.51']);
  w.upstream.records.set('rebind.test', [TARGET]);
  w.upstream.records.set('closed.test', [TARGET]);
});

interface Tunnel {
  status: number;
  head: string;
  body: string;
  socket: Socket;
}

/** Sends CONNECT to the proxy on `via` and reads the response head (and body, for a refusal). */
function connectVia(authority: string, via = ACME): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: via, port: w.proxy.port, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    socket.on('error', reject);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString();
      const status = Number(head.split(' ')[1]);
      if (status === 200) {
        socket.off('data', onData);
        // Paused so nothing the target sends right away is lost before the test reads: callers resume().
        socket.pause();
        const rest = buf.subarray(end + 4);
        if (rest.length) socket.unshift(rest);
        return resolve({ status, head, body: '', socket });
      }
      socket.off('data', onData);
      let body = buf.subarray(end + 4).toString();
      socket.on('data', (d) => (body += d.toString()));
      socket.on('end', () => resolve({ status, head, body, socket }));
    };
    socket.on('data', onData);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}

/** An HTTP/1.1 GET over an established tunnel. */
function getOverTunnel(t: Tunnel, host: string, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({ createConnection: () => t.socket, path, headers: { host } });
    req.on('socket', (s) => s.resume());
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve(body));
    res.on('error', reject);
  });
}

/** A plain-HTTP proxy request (absolute URI). */
function viaProxy(url: string, via = ACME, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: via, port: w.proxy.port, path: url, headers, agent: false });
    req.on('response', async (res) => resolve({ res, body: await readAll(res) }));
    req.on('error', reject);
    req.end();
  });
}

describe('CONNECT', () => {
  it('tunnels to an allowed name and port', async () => {
    const t = await connectVia(`allowed.test:${port}`);
    expect(t.status).toBe(200);
    const res = await getOverTunnel(t, `allowed.test:${port}`, '/hello');
    expect(await readAll(res)).toBe('hello from web');
    t.socket.destroy();
  });

  it('streams: an SSE-like response arrives event by event', async () => {
    const t = await connectVia(`allowed.test:${port}`);
    const res = await getOverTunnel(t, 'allowed.test', '/sse');
    const events: string[] = [];
    await new Promise<void>((resolve) => {
      res.on('data', (d: Buffer) => {
        events.push(d.toString());
        if (events.join('').includes('data: one') && events.length === 1) release();
      });
      res.on('end', () => resolve());
    });
    expect(events.join('')).toBe('data: one\n\ndata: two\n\n');
    t.socket.destroy();
  });

  it('passes a half-close through and still delivers the other direction', async () => {
    const t = await connectVia(`allowed.test:${echoPort}`);
    expect(t.status).toBe(200);
    let got = '';
    t.socket.on('data', (d) => (got += d.toString())).resume();
    const ended = new Promise((r) => t.socket.on('end', r));
    t.socket.end('ping');
    await ended;
    expect(got).toBe('pingbye');
  });

  it('keeps the client-to-target direction open after the target half-closes', async () => {
    greeterHeard = new Promise((r) => (greeterHeardResolve = r));
    const t = await connectVia(`allowed.test:${greeterPort}`);
    expect(t.status).toBe(200);
    let got = '';
    t.socket.on('data', (d) => (got += d.toString())).resume();
    await new Promise((r) => t.socket.on('end', r));
    expect(got).toBe('greeting');
    t.socket.end('late reply');
    expect(await greeterHeard).toBe('late reply');
  });

  it('uses the address the tenant’s DNS answered, never a fresh upstream answer (no rebinding)', async () => {
    const r = await askUdp(ACME, w.dns.port, query('rebind.test'));
    expect(r.answers).toHaveLength(1);
    w.upstream.records.set('rebind.test', [TARGET2]);
    const before = w.upstream.count('rebind.test');
    const t = await connectVia(`rebind.test:${port}`);
    expect(t.status).toBe(200);
    await readAll(await getOverTunnel(t, 'rebind.test', '/x'));
    expect(hits.map((h) => h.server)).toEqual(['web']);
    expect(w.upstream.count('rebind.test')).toBe(before);
    t.socket.destroy();
  });

  it('resolves through the upstream for the tenant when its DNS has not been asked yet', async () => {
    const t = await connectVia(`second.test:${port}`);
    expect(t.status).toBe(200);
    await readAll(await getOverTunnel(t, 'second.test', '/'));
    expect(hits.map((h) => h.server)).toEqual(['web2']);
    expect(w.book.lookup('acme', 'second.test')).toEqual([TARGET2]);
    expect(w.book.lookup('beta', 'second.test')).toEqual([]);
    t.socket.destroy();
  });

  it.each([
    ['a name with no allowlist entry', () => `evil.test:${port}`, /for tenant acme: no allowlist entry matches \(rule: default-deny\)/],
    ['an IP literal', () => `${TARGET}:${port}`, /IP-literal targets need their exact address/],
    ['a disallowed port', () => `allowed.test:22`, /port 22 is not allowed for allowed\.test/],
    ['a name resolving to loopback', () => `loop.test:${port}`, /loop\.test resolves only to denied addresses: 127\.0\.0\.1 is loopback/],
    ['a name resolving to cloud metadata', () => `meta.test:${port}`, /169\.254\.169\.254 is link-local/],
    ['another loopback address than the allowed /32', () => `near.test:${port}`, /127\.0\.0\.51 is loopback/],
  ])('denies %s with a crackbox 403', async (_what, authority, reason) => {
    const t = await connectVia(authority());
    expect(t.status).toBe(403);
    expect(t.head).toMatch(/^x-crackbox-decision: denied$/im);
    expect(t.body).toMatch(new RegExp(`^crackbox denied CONNECT ${authority().replace(/\./g, '\\.')} for tenant acme: `));
    expect(t.body).toMatch(reason);
    expect(hits).toEqual([]);
  });

  it('denies per tenant: beta may not reach acme’s names', async () => {
    const t = await connectVia(`allowed.test:${port}`, BETA);
    expect(t.status).toBe(403);
    expect(t.body).toContain('for tenant beta');
  });

  it('a broken allowlist denies everything', async () => {
    w.allowlists.set('acme', `allowed.test:${port}\n*bad*`);
    const t = await connectVia(`allowed.test:${port}`);
    expect(t.status).toBe(403);
    expect(t.body).toMatch(/rule: broken-allowlist/);
  });

  it('an allowed IP literal listed exactly is reachable', async () => {
    w.allowlists.set('acme', `${TARGET}:${port}`);
    const t = await connectVia(`${TARGET}:${port}`);
    expect(t.status).toBe(200);
    t.socket.destroy();
  });

  it('an unreachable target is a crackbox 502, not a hang', async () => {
    const t = await connectVia('closed.test:1');
    expect(t.status).toBe(502);
    expect(t.head).toMatch(/^x-crackbox-decision: error$/im);
    expect(t.body).toMatch(/^crackbox denied CONNECT closed\.test:1 for tenant acme: could not connect/);
  });

  it('a name the upstream does not know is a crackbox 502', async () => {
    w.allowlists.set('acme', `ghost.test:${port}`);
    const t = await connectVia(`ghost.test:${port}`);
    expect(t.status).toBe(502);
    expect(t.body).toMatch(/does not exist/);
  });

  it('a malformed CONNECT target is a 400', async () => {
    const t = await connectVia('no-port-here');
    expect(t.status).toBe(400);
  });
});

describe('plain HTTP', () => {
  it('forwards an absolute-URI request to an allowed name, stripping hop-by-hop headers', async () => {
    const { res, body } = await viaProxy(`http://allowed.test:${port}/echo-headers?q=1`, ACME, {
      'proxy-authorization': 'Basic c2VjcmV0',
      connection: 'x-drop-me',
      'x-drop-me': '1',
      'x-keep-me': '2',
    });
    expect(res.statusCode).toBe(200);
    const seen = JSON.parse(body) as Record<string, string>;
    expect(seen.host).toBe(`allowed.test:${port}`);
    expect(seen['x-keep-me']).toBe('2');
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-drop-me']).toBeUndefined();
    expect(res.headers['x-secret']).toBeUndefined();
    expect(hits).toEqual([{ server: 'web', url: '/echo-headers?q=1', host: `allowed.test:${port}` }]);
  });

  it('streams a plain-HTTP SSE response', async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: ACME, port: w.proxy.port, path: `http://allowed.test:${port}/sse`, agent: false });
      req.on('response', resolve).on('error', reject).end();
    });
    let all = '';
    await new Promise<void>((resolve) => {
      res.on('data', (d: Buffer) => {
        all += d.toString();
        if (all === 'data: one\n\n') release();
      });
      res.on('end', () => resolve());
    });
    expect(all).toBe('data: one\n\ndata: two\n\n');
  });

  it('denies a disallowed name with a crackbox 403 and headers', async () => {
    const { res, body } = await viaProxy(`http://evil.test:${port}/`);
    expect(res.statusCode).toBe(403);
    expect(res.headers['x-crackbox-decision']).toBe('denied');
    expect(res.headers['x-crackbox-rule']).toBe('default-deny');
    expect(body).toBe(`crackbox denied GET http://evil.test:${port}/ for tenant acme: no allowlist entry matches (rule: default-deny)\n`);
  });

  it('denies a name that resolves to loopback', async () => {
    const { res, body } = await viaProxy(`http://loop.test:${port}/`);
    expect(res.statusCode).toBe(403);
    expect(body).toMatch(/127\.0\.0\.1 is loopback/);
    expect(hits).toEqual([]);
  });

  it('refuses https:// and origin-form requests with a 400', async () => {
    expect((await viaProxy(`https://allowed.test:${port}/`)).res.statusCode).toBe(400);
    const { res, body } = await viaProxy('/hello');
    expect(res.statusCode).toBe(400);
    expect(body).toMatch(/crackbox is a forward proxy/);
  });

  it('refuses oversized request headers', async () => {
    const { res } = await viaProxy(`http://allowed.test:${port}/`, ACME, { 'x-big': 'a'.repeat(20_000) });
    expect(res.statusCode).toBe(431);
    expect(hits).toEqual([]);
  });
});

describe('egress log', () => {
  it('writes a row per proxy decision', async () => {
    const before = queryEgressLog(w.log.db, { limit: 1_000_000 }).length + w.log.pending;
    (await connectVia(`allowed.test:${port}`)).socket.destroy();
    await connectVia(`evil.test:${port}`);
    await viaProxy(`http://allowed.test:${port}/`);
    w.log.flush();
    const rows = queryEgressLog(w.log.db, { limit: 3 });
    expect(queryEgressLog(w.log.db, { limit: 1_000_000 }).length).toBe(before + 3);
    expect(rows.map((r) => [r.tenant, r.kind, r.name, r.port, r.allowed])).toEqual([
      ['acme', 'http', 'allowed.test', port, true],
      ['acme', 'connect', 'evil.test', port, false],
      ['acme', 'connect', 'allowed.test', port, true],
    ]);
    expect(rows[0]!.rule).toBe(`allowed.test:${port},${echoPort},${greeterPort} (/tenants/acme/allowlist:1)`);
    expect(rows[0]!.reason).toMatch(/via 127\.0\.0\.50$/);
  });
});

describe('parseAuthority', () => {
  it.each([
    ['example.com:443', { host: 'example.com', port: 443 }],
    ['1.2.3.4:80', { host: '1.2.3.4', port: 80 }],
    ['example.com', null],
    ['example.com:0', null],
    ['example.com:65536', null],
    ['[::1]:443', null],
    ['user@example.com:443', null],
    ['', null],
  ] as const)('%s', (input, expected) => {
    expect(parseAuthority(input)).toEqual(expected);
  });
});
