// A tenant-reachable upstream (any server behind an allowlisted name) can answer a plain-HTTP proxy request with a
// status line Node's client parser accepts but Node's server refuses to write (status 099, or a reason phrase with a
// control character). The proxy must neither crash (one process serves every tenant) nor relay the line as is: an
// invalid code becomes crackbox's 502, a valid code is relayed with its standard reason phrase.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request, type IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:net';
import { startWorld, ACME, type World } from './world.js';

const TARGET = '127.0.0.50';
let w: World;
let evil: Server;
let evilPort: number;
let statusLine = '';

beforeAll(async () => {
  w = await startWorld({ allowedRanges: [`${TARGET}/32`] });
  evil = createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => s.end(`${statusLine}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`));
  });
  await new Promise<void>((r) => evil.listen({ host: TARGET, port: 0 }, r));
  evilPort = (evil.address() as { port: number }).port;
  w.allowlists.set('acme', `evil.test:${evilPort}`);
  w.upstream.records.set('evil.test', [TARGET]);
});

afterAll(async () => {
  await w.stop();
  await new Promise((r) => evil.close(r));
});

function viaProxy(url: string): Promise<{ status: number } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: ACME, port: w.proxy.port, path: url, agent: false });
    req.on('response', (res: IncomingMessage) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

describe('plain-HTTP proxy path vs a hostile upstream status line', () => {
  it.each([
    ['a status code below 100', 'HTTP/1.1 099 OK', 502],
    ['a control character in the reason phrase', 'HTTP/1.1 200 O\x01K', 200],
  ])('%s does not throw out of the proxy (no process crash)', async (_what, line, expected) => {
    statusLine = line;
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    // Registered first so the crash is recorded as a test failure rather than only as a worker error.
    process.prependListener('uncaughtException', onUncaught);
    try {
      const r = await viaProxy(`http://evil.test:${evilPort}/`);
      // Give the event loop a turn so a throw from the upstream's 'response' listener surfaces.
      await new Promise((res) => setTimeout(res, 200));
      expect(uncaught.map((e) => String((e as Error)?.message ?? e))).toEqual([]);
      // The client gets an answer, not a dead connection.
      expect(r).toEqual({ status: expected });
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
