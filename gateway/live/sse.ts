// A run's live output as server-sent events, framework-neutral: `liveOutputResponse` answers with a Web Response
// (what hono returns as is), `serveLiveOutput` writes to Node's ServerResponse directly (no stream adapters on the
// fan-out path). Both run the same pump: nothing is taken from the subscription while the client's socket is full,
// so a slow client only ever costs its own bounded queue (see hub.ts). Format (docs/live-output.md):
//   id: <seq>\ndata: <chunk JSON>          one per chunk, in seq order
//   id: <to>\nevent: gap\ndata: {from,to}  chunks from..to were pruned before this client got them
//   event: end\ndata: {status,lastSeq}     the run is over; the stream closes
//   : ping                                 a heartbeat every heartbeatMs while nothing else is sent
import type { ServerResponse } from 'node:http';
import type { Chunk } from './chunks.js';
import type { LiveHub, LiveItem, Subscription } from './hub.js';

export interface SseOptions {
  heartbeatMs?: number;
}

/** Each live chunk goes to every subscriber as the same object: format it once. */
const formatted = new WeakMap<Chunk, string>();

/** One item as SSE text. JSON never holds a raw newline, so each field is one line. PURE. */
export function formatItem(item: LiveItem): string {
  if (item.type === 'chunk') {
    let text = formatted.get(item.chunk);
    if (text === undefined) formatted.set(item.chunk, (text = `id: ${item.chunk.seq}\ndata: ${JSON.stringify(item.chunk)}\n\n`));
    return text;
  }
  if (item.type === 'gap') return `id: ${item.gap.to}\nevent: gap\ndata: ${JSON.stringify(item.gap)}\n\n`;
  return `event: end\ndata: ${JSON.stringify({ status: item.status, lastSeq: item.lastSeq })}\n\n`;
}

/**
 * Where a client resumes: after the seq in Last-Event-ID (what EventSource sends on reconnecting), else `?after=`,
 * else from the start. PURE.
 */
export function resumeAfter(lastEventId: string | null | undefined, after: string | null | undefined): { after: number } | { error: string } {
  const raw = lastEventId ?? after ?? '0';
  if (!/^\d{1,15}$/.test(raw.trim())) {
    return { error: `${lastEventId != null ? 'Last-Event-ID' : 'after'} must be a chunk seq (a whole number >= 0), got "${raw.slice(0, 40)}"` };
  }
  return { after: Number(raw.trim()) };
}

export interface Resume {
  lastEventId?: string | null;
  after?: string | null;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };

/**
 * A subscription for the request, or the refusal: 400 for a resume point the run cannot have, 404 for no output, 503
 * when the run has all the subscribers it may.
 */
function open(hub: LiveHub, run: string, resume: Resume): { sub: Subscription } | { status: number; error: string } {
  const from = resumeAfter(resume.lastEventId, resume.after);
  if ('error' in from) return { status: 400, error: from.error };
  const state = hub.store.state(run);
  if (!state) return { status: 404, error: `no output recorded for run ${run}` };
  if (from.after > state.lastSeq) return { status: 400, error: `run ${run} has no chunk ${from.after} yet (its last is ${state.lastSeq})` };
  const sub = hub.subscribe(run, from.after);
  if (sub === 'full') return { status: 503, error: `run ${run} has as many live-output subscribers as it may; try again later` };
  if (!sub) return { status: 404, error: `no output recorded for run ${run}` };
  return { sub };
}

interface Sink {
  /** False when the client's buffer is full: wait for `drained` before writing more. */
  write(text: string): boolean;
  drained(): Promise<void>;
  end(): void;
}

/** Moves items from the subscription to the sink until the end (or the subscription is closed), with heartbeats. */
async function pump(sub: Subscription, run: string, sink: Sink, heartbeatMs: number): Promise<void> {
  let wrote = Date.now();
  const write = (text: string) => {
    wrote = Date.now();
    return sink.write(text);
  };
  // One timer per stream (not one per wait): a ping when nothing else went out for a heartbeat.
  const heartbeat = setInterval(() => {
    if (Date.now() - wrote >= heartbeatMs) write(': ping\n\n');
  }, heartbeatMs);
  try {
    write(`: live output of ${run}\nretry: 2000\n\n`);
    for (;;) {
      const items = sub.take();
      if (items.length > 0) {
        const room = write(items.length === 1 ? formatItem(items[0]!) : items.map(formatItem).join(''));
        if (sub.isClosed) break;
        if (!room) await sink.drained();
      } else if (sub.isClosed) break;
      else await sub.wait();
    }
  } finally {
    clearInterval(heartbeat);
    sub.close();
    sink.end();
  }
}

/** The SSE response for one run as a Web Response (hono and other fetch-style routers return it as is). */
export function liveOutputResponse(hub: LiveHub, run: string, resume: Resume, options: SseOptions = {}): Response {
  const opened = open(hub, run, resume);
  if ('error' in opened) {
    return new Response(JSON.stringify({ error: opened.error }), { status: opened.status, headers: { 'content-type': 'application/json' } });
  }
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let room: (() => void) | null = null;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        room?.();
        room = null;
      },
      cancel() {
        cancelled = true;
        opened.sub.close();
        room?.();
      },
    },
    { highWaterMark: 1 },
  );
  void pump(
    opened.sub,
    run,
    {
      write(text) {
        if (cancelled) return true;
        controller.enqueue(encoder.encode(text));
        return (controller.desiredSize ?? 0) > 0;
      },
      drained: () => (cancelled ? Promise.resolve() : new Promise<void>((resolve) => (room = resolve))),
      end: () => {
        if (!cancelled) controller.close();
      },
    },
    options.heartbeatMs ?? 15_000,
  );
  return new Response(body, { status: 200, headers: SSE_HEADERS });
}

/** The SSE response for one run written to Node's ServerResponse; resolves when the stream is over. */
export async function serveLiveOutput(hub: LiveHub, run: string, resume: Resume, res: ServerResponse, options: SseOptions = {}): Promise<void> {
  const opened = open(hub, run, resume);
  if ('error' in opened) {
    const text = JSON.stringify({ error: opened.error });
    res.writeHead(opened.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    return void res.end(text);
  }
  const { sub } = opened;
  res.writeHead(200, SSE_HEADERS);
  let gone = false;
  let drain: (() => void) | null = null;
  const onGone = () => {
    gone = true;
    sub.close(); // wakes the pump, which then ends
    drain?.();
  };
  res.on('close', onGone);
  res.on('drain', () => {
    drain?.();
    drain = null;
  });
  await pump(
    sub,
    run,
    {
      write: (text) => (gone ? true : res.write(text)),
      drained: () => (gone ? Promise.resolve() : new Promise<void>((resolve) => (drain = resolve))),
      end: () => {
        res.off('close', onGone);
        if (!gone) res.end();
      },
    },
    options.heartbeatMs ?? 15_000,
  );
}
