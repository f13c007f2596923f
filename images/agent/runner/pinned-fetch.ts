// The runner's fetch for gated's HTTPS endpoint: node's https with exactly the CA the turn names as its trust store
// (the system's CAs are not consulted, so no other certificate authority can stand in for gated), and only https.
// What the SDK's StreamableHTTPClientTransport accepts as `fetch`.
// On a Swarm task the only way off the tenant's internal overlay is crackbox's proxy: when the environment names one
// (HTTPS_PROXY, as the egress gives it), the connection to gated is a CONNECT tunnel through it, and TLS with the
// pinned CA runs inside the tunnel, so the proxy only ever carries ciphertext.
import { Agent, request, type AgentOptions } from 'node:https';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Readable } from 'node:stream';

export type PinnedFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Statuses whose response can have no body (the Response constructor refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * The proxy to tunnel a connection to `target` through, from HTTPS_PROXY (or https_proxy), or null for a direct
 * connection: none set, or the host listed in NO_PROXY (exact names, `.suffix`/`suffix` domains, `*`). A proxy that
 * is not an http:// URL throws rather than being bypassed. PURE.
 */
export function proxyFor(target: URL, env: Record<string, string | undefined>): URL | null {
  const raw = (env.HTTPS_PROXY ?? env.https_proxy ?? '').trim();
  if (raw === '') return null;
  const host = target.hostname.toLowerCase();
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean);
  for (const entry of noProxy) {
    if (entry === '*') return null;
    const name = entry.replace(/^\*?\./, '').replace(/:\d+$/, '');
    if (host === name || host.endsWith(`.${name}`)) return null;
  }
  let proxy: URL;
  try {
    proxy = new URL(raw);
  } catch {
    throw new Error(`HTTPS_PROXY ${JSON.stringify(raw)} is not a URL`);
  }
  if (proxy.protocol !== 'http:') throw new Error(`HTTPS_PROXY must be an http:// proxy, got ${proxy.protocol}`);
  return proxy;
}

/** Opens a CONNECT tunnel to host:port through `proxy`; rejects with the proxy's answer when it refuses. */
export function connectTunnel(proxy: URL, host: string, port: number): Promise<Duplex> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: proxy.hostname, port: Number(proxy.port || 80), method: 'CONNECT', path: authority, headers: { host: authority } });
    req.once('connect', (res, socket, head) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new Error(`the proxy ${proxy.host} refused the tunnel to ${authority}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    req.once('error', reject);
    req.end();
  });
}

/** An https Agent whose connections are TLS inside a CONNECT tunnel through `proxy`. */
class TunnelAgent extends Agent {
  constructor(private readonly proxy: URL, options: AgentOptions) {
    super(options);
  }

  override createConnection(options: ConnectionOptions & { host?: string; port?: number }, done: (err: Error | null, socket?: Duplex) => void): undefined {
    connectTunnel(this.proxy, options.host ?? 'localhost', Number(options.port ?? 443)).then(
      (socket) => {
        // host stays in the options: the certificate is checked against gated's name, not the proxy's.
        const tls = tlsConnect({ ...options, socket });
        done(null, tls);
      },
      (error: Error) => done(error),
    );
    return undefined;
  }
}

export function pinnedFetch(caPem: string, env: Record<string, string | undefined> = {}): { fetch: PinnedFetch; close(): void } {
  const agents = new Map<string, Agent>();
  const direct = new Agent({ keepAlive: true, ca: [caPem] });
  const agentFor = (url: URL): Agent => {
    const proxy = proxyFor(url, env);
    if (!proxy) return direct;
    let agent = agents.get(proxy.href);
    if (!agent) agents.set(proxy.href, (agent = new TunnelAgent(proxy, { keepAlive: true, ca: [caPem] })));
    return agent;
  };
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
      let agent: Agent;
      try {
        agent = agentFor(url);
      } catch (error) {
        reject(error);
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
  return {
    fetch,
    close: () => {
      direct.destroy();
      for (const agent of agents.values()) agent.destroy();
    },
  };
}

function webHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}
