// The gateway's HTTP API (loopback by default, operator token required):
//   POST /v1/messages            {tenant, text, topic?, sender?, chat?} -> 202 {id}   (stored before anything else)
//   GET  /v1/messages?tenant=T[&after=N][&topic=X]                     -> {messages, next_after}: finished-run rows,
//                                         each with its delivery: delivery_state (null waiting | sending | delivered |
//                                         failed), delivery_attempts, delivery_error, delivered_at, platform_message_id
//   GET  /v1/stream?tenant=T                                           -> server-sent events, one per new row
//   GET  /v1/runs/<run>/output[?after=seq]  (or Last-Event-ID)         -> a run's live output as SSE (gateway/live/)
//   GET  /v1/health                                                    -> {ok, runs}   (no token needed)
//   /hook/*, /chat/*   the webhook and web chat channels (gateway/channels/http-routes.ts; their own credentials)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from '../core/log.js';
import { parseTenantPath } from '../core/tenant-path.js';
import type { TenantRegistry } from '../core/tree/registry.js';
import type { GatedStore } from '../gated/store.js';
import { acceptMessage, InboundError } from './inbound.js';
import type { LiveHub } from './live/hub.js';
import { serveLiveOutput } from './live/sse.js';
import type { OutboxView } from './outbox-view.js';
import { tokenMatches } from './operator-token.js';

export const MAX_BODY_BYTES = 256 * 1024;

export interface HttpDeps {
  token: string;
  store: GatedStore;
  registry: TenantRegistry;
  outbox: OutboxView;
  log: Logger;
  /** A message was stored: look at the queue now. */
  onAccepted(): void;
  activeRuns(): number;
  streamPollMs?: number;
  /** The public channel routes (/hook/, /chat/), when the web-facing channels run. */
  channels?: Hono;
  /** Runs' live output; without it the output route answers 404. */
  liveOutput?: LiveHub;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new HttpError(415, 'send JSON (content-type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function tenantParam(url: URL): string {
  const raw = url.searchParams.get('tenant');
  if (!raw) throw new HttpError(400, 'tenant is required');
  try {
    return parseTenantPath(raw);
  } catch (error) {
    throw new HttpError(400, (error as Error).message);
  }
}

function runParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'the run id in the path is not valid percent-encoding');
  }
}

export function createHttpApi(deps: HttpDeps): Server {
  const channels = deps.channels ? getRequestListener(deps.channels.fetch) : null;
  const server = createServer((req, res) => {
    if (channels && /^\/(hook|chat)\//.test(req.url ?? '')) {
      void channels(req, res);
      return;
    }
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return send(res, error.status, { error: error.message });
      deps.log.error({ err: error, url: req.url }, 'http handler failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error; see the gateway log' });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (req.method === 'GET' && url.pathname === '/v1/health') return send(res, 200, { ok: true, runs: deps.activeRuns() });
    const auth = req.headers.authorization;
    if (!tokenMatches(deps.token, auth?.startsWith('Bearer ') ? auth.slice(7) : undefined)) {
      throw new HttpError(401, 'missing or wrong operator token (Authorization: Bearer <DATA/operator.token>)');
    }
    if (req.method === 'POST' && url.pathname === '/v1/messages') {
      try {
        const accepted = acceptMessage(deps.store, deps.registry, await readJson(req));
        deps.onAccepted();
        return send(res, 202, accepted);
      } catch (error) {
        if (error instanceof InboundError) throw new HttpError(422, error.message);
        throw error;
      }
    }
    if (req.method === 'GET' && url.pathname === '/v1/messages') {
      const after = Number(url.searchParams.get('after') ?? 0);
      if (!Number.isInteger(after) || after < 0) throw new HttpError(400, 'after must be a non-negative whole number');
      const topic = url.searchParams.get('topic') ?? undefined;
      return send(res, 200, deps.outbox.page(tenantParam(url), { after, topic }));
    }
    if (req.method === 'GET' && url.pathname === '/v1/stream') return stream(tenantParam(url), url, res);
    const output = /^\/v1\/runs\/([^/]+)\/output$/.exec(url.pathname);
    if (req.method === 'GET' && output && deps.liveOutput) {
      const resume = { lastEventId: req.headers['last-event-id'] as string | undefined, after: url.searchParams.get('after') };
      return serveLiveOutput(deps.liveOutput, runParam(output[1]!), resume, res);
    }
    throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
  }

  function stream(tenant: string, url: URL, res: ServerResponse): void {
    const from = url.searchParams.has('after') ? Number(url.searchParams.get('after')) : deps.outbox.latestId(tenant);
    const next = deps.outbox.follower(tenant, Number.isInteger(from) && from >= 0 ? from : 0);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': warren stream\n\n');
    const tick = () => {
      for (const row of next()) res.write(`id: ${row.id}\ndata: ${JSON.stringify(row)}\n\n`);
    };
    const timer = setInterval(tick, deps.streamPollMs ?? 100);
    const keepAlive = setInterval(() => res.write(': ping\n\n'), 15_000);
    res.on('close', () => {
      clearInterval(timer);
      clearInterval(keepAlive);
    });
  }

  return server;
}

export async function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}
