// POST JSON through the container's egress proxy (HTTP_PROXY / HTTPS_PROXY, set by crackbox), with node's own http
// and tls: fetch in node 20 ignores proxy variables, and undici's ProxyAgent is not in the runner bundle. http:// is
// sent to the proxy as an absolute-URI request; https:// goes through a CONNECT tunnel, verified as usual (so
// NODE_EXTRA_CA_CERTS applies). NO_PROXY is honoured for exact host names.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';

export interface JsonResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** The proxy for `url` from the environment, or null (none set, or the host is in NO_PROXY). */
export function proxyFor(url: URL, env: Readonly<Record<string, string | undefined>>): URL | null {
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (noProxy.includes('*') || noProxy.includes(url.hostname.toLowerCase())) return null;
  const value = url.protocol === 'https:' ? (env.HTTPS_PROXY ?? env.https_proxy) : (env.HTTP_PROXY ?? env.http_proxy);
  return value ? new URL(value) : null;
}

export function postJson(
  url: URL,
  body: unknown,
  headers: Record<string, string>,
  options: { env: Readonly<Record<string, string | undefined>>; timeoutMs: number; signal?: AbortSignal },
): Promise<JsonResponse> {
  const payload = Buffer.from(JSON.stringify(body));
  const proxy = proxyFor(url, options.env);
  const allHeaders = { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length), host: url.host };
  return new Promise<JsonResponse>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      reject(error);
    };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_RESPONSE_BYTES) res.destroy(new Error(`the answer is larger than ${MAX_RESPONSE_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    };
    const send = (req: http.ClientRequest) => {
      req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
      options.signal?.addEventListener('abort', () => req.destroy(new Error('stopped')), { once: true });
      req.on('error', fail);
      req.end(payload);
    };
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    if (!proxy) {
      const mod = url.protocol === 'https:' ? https : http;
      send(mod.request(url, { method: 'POST', headers: allHeaders }, onResponse));
    } else if (url.protocol === 'http:') {
      send(http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'POST', path: url.href, headers: allHeaders }, onResponse));
    } else {
      const connect = http.request({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: `${url.hostname}:${port}` });
      connect.setTimeout(options.timeoutMs, () => connect.destroy(new Error(`the proxy did not open a tunnel within ${options.timeoutMs} ms`)));
      connect.on('error', fail);
      connect.on('connect', (res: http.IncomingMessage, socket: Socket) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          return fail(new Error(`the egress proxy refused ${url.host} (${res.statusCode})`));
        }
        const secure = tls.connect({ socket, servername: url.hostname });
        send(https.request(url, { method: 'POST', headers: allHeaders, createConnection: () => secure }, onResponse));
      });
      connect.end();
    }
  });
}
