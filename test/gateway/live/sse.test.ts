// Live output over real HTTP (gateway/http.ts's route, real sockets, real SQLite): SSE framing with `id: <seq>`, a
// client that joins mid-stream, one that reconnects again and again with Last-Event-ID, a slow one whose socket is
// full, gaps for pruned ranges, the end event, and the route's refusals.
import type { Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { TenantRegistry } from '../../../core/tree/registry.js';
import { GatedStore } from '../../../gated/store.js';
import { createHttpApi, listen } from '../../../gateway/http.js';
import { liveOutputResponse } from '../../../gateway/live/sse.js';
import { OutboxView } from '../../../gateway/outbox-view.js';
import { bareHttpDeps } from '../../helpers/http-api.js';
import { useLive, type LiveFixture } from '../../helpers/live.js';
import { sse, type SseEvent } from '../../helpers/sse.js';

const TOKEN = 'operator-token-for-tests';
const auth = { authorization: `Bearer ${TOKEN}` };

function serve(f: LiveFixture) {
  let server: Server;
  let base = '';
  beforeEach(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-live-tree-'));
    server = createHttpApi(bareHttpDeps(f.db, dir, { token: TOKEN, liveOutput: f.hub }));
    const address = await listen(server, '127.0.0.1', 0);
    base = `http://127.0.0.1:${address.port}`;
  });
  afterEach(async () => {
    f.hub.closeAll();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { url: (path: string) => `${base}${path}` };
}

function write(f: LiveFixture, n: number, text = 'line', run = 'run_a'): void {
  for (let i = 0; i < n; i++) f.output.line(run, text);
}

const ids = (events: SseEvent[]) => events.filter((e) => e.event === 'message').map((e) => Number(e.id));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const hasEnd = (events: SseEvent[]) => events.some((e) => e.event === 'end');

/** Messages the hub logs (it says when a slow subscriber falls back to the store). */
const hubLogs: string[] = [];
const hubLog = pino({ level: 'debug' }, new Writable({ write: (line, _enc, done) => done(void hubLogs.push(JSON.parse(String(line)).msg)) }));

describe('GET /v1/tenants/<tenant>/runs/<run>/output', () => {
  const f = useLive({ hub: { maxQueued: 20, pageSize: 50, log: hubLog }, bounds: { maxBytes: 64 * 1024 * 1024 } });
  const http = serve(f);
  beforeEach(() => f.output.started({ id: 'run_a', tenant: 'acme', topic: 'main', attempt: 1 }));

  it('streams a run to a client that joins mid-stream: backfill, live chunks, the end, then closes', async () => {
    write(f, 9);
    const client = await sse(http.url('/v1/tenants/acme/runs/run_a/output'), auth);
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    await client.waitFor((e) => ids(e).length >= 10, 'the backfill');
    write(f, 5);
    f.output.ended('run_a', 'done');
    await client.ended;
    expect(ids(client.events)).toEqual(range(1, 16));
    const chunks = client.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data));
    expect(chunks[0]).toMatchObject({ seq: 1, kind: 'status', data: { state: 'started' } });
    expect(chunks[1]).toMatchObject({ seq: 2, kind: 'log', text: 'line' });
    expect(chunks.at(-1)).toMatchObject({ seq: 16, kind: 'status', data: { state: 'ended', status: 'done' } });
    expect(client.events.at(-1)).toEqual({ event: 'end', data: '{"status":"done","lastSeq":16}' });
    expect(f.hub.subscriberCount('run_a')).toBe(0);
  });

  it('gives a client that reconnects again and again with Last-Event-ID every chunk exactly once', async () => {
    const seen: number[] = [];
    let last: string | undefined;
    for (let round = 0; round < 8; round++) {
      write(f, 4);
      const client = await sse(http.url('/v1/tenants/acme/runs/run_a/output?after=0'), last ? { ...auth, 'last-event-id': last } : auth);
      write(f, 3);
      await client.waitFor((e) => ids(e).length >= 2, 'a couple of chunks');
      client.close(); // dropped mid-stream
      await client.ended;
      seen.push(...ids(client.events));
      last = client.events.filter((e) => e.id !== undefined).at(-1)!.id;
    }
    f.output.ended('run_a', 'done');
    const final = await sse(http.url('/v1/tenants/acme/runs/run_a/output'), { ...auth, 'last-event-id': last! });
    await final.ended;
    seen.push(...ids(final.events));
    expect(seen).toEqual(range(1, 58));
    expect(hasEnd(final.events)).toBe(true);
  });

  it('does not let a slow client hold up a fast one; the slow one still gets every chunk once, in order', async () => {
    const slow = await sse(http.url('/v1/tenants/acme/runs/run_a/output'), auth);
    const fast = await sse(http.url('/v1/tenants/acme/runs/run_a/output'), auth);
    await slow.waitFor((e) => ids(e).length >= 1, 'the slow client connected');
    slow.pause(); // its socket fills; the server stops taking from its subscription
    const big = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 600; i++) {
      write(f, 1, big);
      await new Promise((r) => setImmediate(r)); // every subscriber that can take, takes before the next
    }
    f.output.ended('run_a', 'done');
    await fast.ended; // the fast client is done while the slow one still reads nothing
    expect(ids(fast.events)).toEqual(range(1, 602));
    expect(ids(slow.events).length).toBeLessThan(602);
    // Its socket filled, so the server stopped taking for it and its bounded queue gave way to the store.
    expect(hubLogs).toContain('a slow live-output subscriber reads on from the store');
    slow.resume();
    await slow.ended;
    expect(ids(slow.events)).toEqual(range(1, 602));
    expect(hasEnd(slow.events)).toBe(true);
  });

  it('refuses without the operator token, for a run without output, and for a resume point the run cannot have', async () => {
    const anonymous = await sse(http.url('/v1/tenants/acme/runs/run_a/output'));
    expect(anonymous.status).toBe(401);
    const unknown = await sse(http.url('/v1/tenants/acme/runs/run_nope/output'), auth);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(await unknown.body())).toEqual({ error: 'no live output of run run_nope of acme' });
    const othersRun = await sse(http.url('/v1/tenants/globex/runs/run_a/output'), auth); // run_a is acme's
    expect(othersRun.status).toBe(404);
    const bad = await sse(http.url('/v1/tenants/acme/runs/run_a/output?after=x'), auth);
    expect(bad.status).toBe(400);
    const ahead = await sse(http.url('/v1/tenants/acme/runs/run_a/output'), { ...auth, 'last-event-id': '99' });
    expect(ahead.status).toBe(400);
    expect(JSON.parse(await ahead.body())).toEqual({ error: 'run run_a has no chunk 99 yet (its last is 1)' });
  });
});

describe('GET /v1/tenants/<tenant>/runs/<run>/output: pruned ranges', () => {
  const f = useLive({ bounds: { maxChunks: 10 } });
  const http = serve(f);

  it('sends a gap event (with its last seq as id) for a range pruned before the client asked', async () => {
    f.output.started({ id: 'run_a', tenant: 'acme', topic: 'main', attempt: 1 });
    write(f, 29);
    f.output.ended('run_a', 'done'); // seq 31
    const client = await sse(http.url('/v1/tenants/acme/runs/run_a/output?after=5'), auth);
    await client.ended;
    expect(client.events[0]).toEqual({ id: '21', event: 'gap', data: '{"from":6,"to":21}' });
    expect(ids(client.events)).toEqual(range(22, 31));
    expect(hasEnd(client.events)).toBe(true);
  });
});

describe('liveOutputResponse (framework-neutral)', () => {
  const f = useLive();

  it('is a Web Response whose body sends heartbeats while nothing happens', async () => {
    f.output.started({ id: 'run_a', tenant: 'acme', topic: 'main', attempt: 1 });
    const response = liveOutputResponse(f.hub, 'run_a', { after: '1' }, { heartbeatMs: 20 });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes(': ping')) text += decoder.decode((await reader.read()).value);
    f.output.line('run_a', 'after the ping');
    f.output.ended('run_a', 'done');
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += decoder.decode(r.value);
    expect(text).toContain('id: 2\ndata: {"seq":2');
    expect(text).toMatch(/event: end\ndata: \{"status":"done","lastSeq":3\}\n\n$/);
    expect(f.hub.subscriberCount('run_a')).toBe(0);
  });

  it('lets go of the subscription when the reader cancels, and refuses like the Node handler does', async () => {
    f.output.started({ id: 'run_a', tenant: 'acme', topic: 'main', attempt: 1 });
    const response = liveOutputResponse(f.hub, 'run_a', { lastEventId: '0' });
    const reader = response.body!.getReader();
    await reader.read();
    expect(f.hub.subscriberCount('run_a')).toBe(1);
    await reader.cancel();
    expect(f.hub.subscriberCount('run_a')).toBe(0);
    const missing = liveOutputResponse(f.hub, 'run_none', {});
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'no output recorded for run run_none' });
  });
});
