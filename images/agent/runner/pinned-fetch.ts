// The runner's fetch for gated's HTTPS endpoint: node's https with exactly the CA the turn names as its trust store
// (the system's CAs are not consulted, so no other certificate authority can stand in for gated), and only https.
// What the SDK's StreamableHTTPClientTransport accepts as `fetch`.
import { Agent, request } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';

export type PinnedFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Statuses whose response can have no body (the Response constructor refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

export function pinnedFetch(caPem: string): { fetch: PinnedFetch; close(): void } {
  const agent = new Agent({ keepAlive: true, ca: [caPem] });
  const fetch: PinnedFetch = (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(String(input));
      if (url.protocol !== 'https:') {
        reject(new Error(`refusing ${url.protocol} for gated: only https with the pinned CA`));
        return;
      }
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason ?? new Error('aborted'));
        return;
      }
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const req = request(url, { method: init.method ?? 'GET', headers, agent }, (res) => {
        const status = res.statusCode ?? 0;
        const body = NO_BODY.has(status) ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
        if (body === null) res.resume();
        resolve(new Response(body, { status, statusText: res.statusMessage, headers: webHeaders(res.headers) }));
      });
      const abort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal?.addEventListener('abort', abort, { once: true });
      req.once('close', () => signal?.removeEventListener('abort', abort));
      req.once('error', reject);
      const payload = init.body;
      if (payload === undefined || payload === null) req.end();
      else if (typeof payload === 'string' || payload instanceof Uint8Array) req.end(payload);
      else {
        req.destroy();
        reject(new Error('pinnedFetch sends string or byte bodies only'));
      }
    });
  return { fetch, close: () => agent.destroy() };
}

function webHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}
