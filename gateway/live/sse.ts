// A run's live output as server-sent events, framework-neutral: `liveOutputResponse` answers with a Web Response
// (what hono returns as is), `sendResponse` writes such a Response to Node's ServerResponse. The stream is pulled:
// nothing is taken from the subscription while the client's socket is full, so a slow client only ever costs its
// own bounded queue (see hub.ts). Format (docs/live-output.md):
//   id: <seq>\ndata: <chunk JSON>          one per chunk, in seq order
//   id: <to>\nevent: gap\ndata: {from,to}  chunks from..to were pruned before this client got them
//   event: end\ndata: {status,lastSeq}     the run is over; the stream closes
//   : ping                                 a heartbeat every heartbeatMs while nothing else is sent
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LiveHub, LiveItem } from './hub.js';

export interface SseOptions {
  heartbeatMs?: number;
}

/** One item as SSE text. JSON never holds a raw newline, so each field is one line. PURE. */
export function formatItem(item: LiveItem): string {
  if (item.type === 'chunk') return `id: ${item.chunk.seq}\ndata: ${JSON.stringify(item.chunk)}\n\n`;
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

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** The SSE response for one run: 404 for a run without output, 400 for a resume point it cannot have. */
export function liveOutputResponse(
  hub: LiveHub,
  run: string,
  resume: { lastEventId?: string | null; after?: string | null },
  options: SseOptions = {},
): Response {
  const from = resumeAfter(resume.lastEventId, resume.after);
  if ('error' in from) return json(400, { error: from.error });
  const state = hub.store.state(run);
  if (!state) return json(404, { error: `no output recorded for run ${run}` });
  if (from.after > state.lastSeq) return json(400, { error: `run ${run} has no chunk ${from.after} yet (its last is ${state.lastSeq})` });
  const sub = hub.subscribe(run, from.after)!;
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(encoder.encode(`: live output of ${run}\nretry: 2000\n\n`));
      },
      async pull(controller) {
        for (;;) {
          const items = sub.take();
          if (items.length > 0) controller.enqueue(encoder.encode(items.map(formatItem).join('')));
          if (sub.isClosed) return controller.close(); // after the end (or at shutdown)
          if (items.length > 0) return;
          let timer: NodeJS.Timeout | undefined;
          const beat = await Promise.race([
            sub.wait().then(() => false),
            new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), heartbeatMs))),
          ]);
          clearTimeout(timer);
          if (beat) return controller.enqueue(encoder.encode(': ping\n\n'));
        }
      },
      cancel() {
        sub.close();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
  });
}

/** Writes a Web Response to Node's ServerResponse, streaming its body with back-pressure; a client gone ends it. */
export async function sendResponse(response: Response, res: ServerResponse): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) return void res.end();
  res.flushHeaders();
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>), res).catch(() => undefined);
}
