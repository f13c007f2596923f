// crackbox's HTTP forward proxy: CONNECT tunnels and plain-HTTP absolute-URI requests. The tenant is decided by the
// local address the connection arrived on. Every target goes through checkTarget (policy, the tenant's own DNS
// answers, the address policy); denials are 403s whose body and X-Crackbox-Decision header make clear they come from
// crackbox and not from the target. Tunnels are spliced with pipe, so streams (SSE, websockets) are not buffered.
import { STATUS_CODES, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { silentLogger, type Logger } from '../core/log.js';
import type { TenantPath } from '../core/tenant-path.js';
import { plainAddress } from './dns-server.js';
import { policyOrDenyAll, type EgressDecision, type EgressPolicy } from './egress-policy.js';
import { nullSink, type EgressKind, type EgressSink } from './egress-log.js';
import { checkTarget, denialText, headerSafe, type TargetCheck } from './proxy-target.js';
import type { Resolver } from './resolver.js';
import { readInto } from './tunnel-read.js';

export interface ProxyOptions {
  /** 0 picks a free port at the first listen and reuses it for every address. */
  port: number;
  tenantForLocalAddress(address: string): TenantPath | null;
  /** Consulted on every request. */
  policyFor(tenant: TenantPath): EgressPolicy;
  resolver: Pick<Resolver, 'resolve'>;
  /** Why an address may not be connected to, or null (address-policy.ts: addressChecker(...).problem). */
  addressProblem(ip: string): string | null;
  /**
   * The name of warren's own endpoint a CONNECT to exactly host:port is (the Swarm egress: gated on the manager), or
   * null. Such a tunnel bypasses the tenant's policy and the address policy; plain HTTP never does.
   */
  infrastructureTarget?(host: string, port: number): string | null;
  sink?: EgressSink;
  log?: Logger;
  /** Give up on an upstream that does not accept the connection within this time (504). */
  connectTimeoutMs?: number;
  /** Close a tunnel or forwarded request after this long with no traffic either way. */
  idleTimeoutMs?: number;
  /** Request header bytes accepted from a tenant (larger: 431). */
  maxHeaderSize?: number;
}

export const DECISION_HEADER = 'X-Crackbox-Decision';
export const RULE_HEADER = 'X-Crackbox-Rule';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the proxy's own; never forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function endToEndHeaders(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** "host:port" of a CONNECT request (authority-form); null when it is not one. IPv6 brackets are refused later. */
export function parseAuthority(target: string | undefined): { host: string; port: number } | null {
  const m = /^([^:/?#@\s]+):([0-9]{1,5})$/.exec(target ?? '');
  if (!m) return null;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : null;
}

export class EgressProxy {
  port: number;
  private readonly servers = new Map<string, Server>();
  private readonly sockets = new Set<Duplex>();
  private readonly sink: EgressSink;
  private readonly log: Logger;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly options: ProxyOptions) {
    this.port = options.port;
    this.sink = options.sink ?? nullSink;
    this.log = options.log ?? silentLogger();
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 10 * 60_000;
  }

  async listen(address: string): Promise<void> {
    if (this.servers.has(address)) return;
    const server = createServer({
      maxHeaderSize: this.options.maxHeaderSize ?? 16 * 1024,
      headersTimeout: 30_000,
      // Long uploads and streams are bounded by the idle timeout instead of a total request time.
      requestTimeout: 0,
    });
    server.on('request', (req, res) => void this.onRequest(req, res));
    server.on('connect', (req, socket, head) => void this.onConnect(req, socket, head));
    server.on('upgrade', (req, socket) => this.onUpgrade(req, socket));
    server.on('connection', (socket: Socket) => this.track(socket));
    server.on('clientError', (err, socket) => {
      if (!socket.writable) return socket.destroy();
      const status = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `${DECISION_HEADER}: error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    server.on('error', (err) => this.log.error({ err, address }, 'proxy server error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port: this.port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const bound = server.address();
    if (bound && typeof bound === 'object') this.port = bound.port;
    this.servers.set(address, server);
    this.log.info({ address, port: this.port }, 'proxy listening');
  }

  async unlisten(address: string): Promise<void> {
    const server = this.servers.get(address);
    if (!server) return;
    this.servers.delete(address);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([...this.servers.keys()].map((a) => this.unlisten(a)));
  }

  private track(socket: Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private tenantOf(socket: Socket): TenantPath | null {
    try {
      return this.options.tenantForLocalAddress(plainAddress(socket.localAddress));
    } catch (err) {
      this.log.error({ err }, 'tenantForLocalAddress failed');
      return null;
    }
  }

  private async check(tenant: TenantPath, host: string, port: number, kind: EgressKind): Promise<TargetCheck> {
    const { policy, error } = policyOrDenyAll((t) => this.options.policyFor(t), tenant);
    if (error) this.log.error({ err: error, tenant }, 'policyFor failed; denying');
    let result: TargetCheck;
    try {
      const deps = { policy, resolver: this.options.resolver, addressProblem: (ip: string) => this.options.addressProblem(ip) };
      result = await checkTarget(deps, tenant, host, port);
    } catch (err) {
      this.log.error({ err, tenant, host }, 'target check failed; denying');
      result = { ok: false, status: 403, decision: { allowed: false, rule: 'error', reason: 'internal error while checking' } };
    }
    this.sink.record({ tenant, kind, name: host.toLowerCase().slice(0, 255), port, ...result.decision, allowed: result.ok });
    return result;
  }

  private infrastructure(tenant: TenantPath, host: string, port: number, name: string): TargetCheck {
    const decision = { allowed: true, rule: `infrastructure:${name}`, reason: `warren's own ${name} endpoint` };
    this.sink.record({ tenant, kind: 'connect', name: host, port, ...decision });
    return { ok: true, address: host, decision };
  }

  private denialHead(status: number, decision: EgressDecision, body: string): string {
    return (
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n` +
      `${DECISION_HEADER}: ${status === 403 ? 'denied' : 'error'}\r\n` +
      `${RULE_HEADER}: ${headerSafe(decision.rule)}\r\n` +
      `Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  }

  private async onConnect(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const tenant = this.tenantOf(req.socket);
    const refuse = (status: number, decision: EgressDecision, who = tenant ?? '(unknown)') => {
      if (client.writable) client.end(this.denialHead(status, decision, denialText('CONNECT', req.url ?? '', who, decision)));
      else client.destroy();
    };
    if (tenant === null) {
      return refuse(403, { allowed: false, rule: 'no-tenant', reason: 'this address serves no tenant' });
    }
    const target = parseAuthority(req.url);
    if (!target) {
      return refuse(400, { allowed: false, rule: 'bad-request', reason: 'CONNECT needs host:port' });
    }
    const infrastructure = this.options.infrastructureTarget?.(target.host, target.port) ?? null;
    const result = infrastructure
      ? this.infrastructure(tenant, target.host, target.port, infrastructure)
      : await this.check(tenant, target.host, target.port, 'connect');
    if (!result.ok) return refuse(result.status, result.decision);
    if (client.destroyed) return;
    const download = readInto(client);
    const upstream = connect({ host: result.address, port: target.port, allowHalfOpen: true, onread: download.onread });
    this.track(upstream);
    let connected = false;
    const timer = setTimeout(() => {
      upstream.destroy();
      refuse(504, { ...result.decision, reason: `${target.host}:${target.port} did not accept the connection in time` });
    }, this.connectTimeoutMs);
    upstream.on('error', (err) => {
      clearTimeout(timer);
      if (connected) client.destroy();
      else refuse(502, { ...result.decision, reason: `could not connect to ${target.host}:${target.port}: ${err.message}` });
    });
    // A side that closed cleanly (both directions ended) has already passed its end on through pipe; only an unclean
    // close (error, timeout, abort) tears the other side down, so no buffered bytes are cut off.
    const clean = (s: Duplex) => s.readableEnded && s.writableFinished;
    client.once('close', () => {
      clearTimeout(timer);
      if (!connected || !clean(client)) upstream.destroy();
    });
    upstream.once('close', () => {
      if (connected && !clean(upstream)) client.destroy();
    });
    upstream.once('connect', () => {
      clearTimeout(timer);
      connected = true;
      if (client.destroyed) return upstream.destroy();
      upstream.setNoDelay(true);
      upstream.setTimeout(this.idleTimeoutMs, () => upstream.destroy());
      if ('setTimeout' in client) (client as Socket).setTimeout(this.idleTimeoutMs, () => client.destroy());
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      // Each direction passes its end on separately, so a half-close reaches the other side.
      client.pipe(upstream);
      download.attach(upstream);
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    req.on('error', () => res.destroy());
    res.on('error', () => req.destroy());
    const tenant = this.tenantOf(req.socket);
    const target = req.url ?? '';
    let answered = false;
    let streaming = false;
    const refuse = (status: number, decision: EgressDecision) => {
      if (answered) return;
      answered = true;
      const body = denialText(req.method ?? 'GET', target, tenant ?? '(unknown)', decision);
      res.writeHead(status, {
        'Content-Type': 'text/plain; charset=utf-8',
        [DECISION_HEADER]: status === 403 ? 'denied' : 'error',
        [RULE_HEADER]: headerSafe(decision.rule),
        Connection: 'close',
      });
      res.end(body);
    };
    if (tenant === null) return refuse(403, { allowed: false, rule: 'no-tenant', reason: 'this address serves no tenant' });
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return refuse(400, {
        allowed: false,
        rule: 'bad-request',
        reason: 'crackbox is a forward proxy: send an absolute http:// URI, or use CONNECT',
      });
    }
    if (url.protocol !== 'http:') {
      return refuse(400, { allowed: false, rule: 'bad-request', reason: `${url.protocol} URIs must use CONNECT` });
    }
    if (url.username || url.password) {
      return refuse(400, { allowed: false, rule: 'bad-request', reason: 'credentials in the URI are not forwarded' });
    }
    const port = url.port ? Number(url.port) : 80;
    const result = await this.check(tenant, url.hostname, port, 'http');
    if (!result.ok) return refuse(result.status, result.decision);
    const headers = endToEndHeaders(req.headers);
    headers.host = url.host;
    // agent: false — a fresh connection per request, never a pooled socket another tenant's request opened.
    const upstream = httpRequest({
      host: result.address,
      port,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      agent: false,
      setHost: false,
      timeout: this.idleTimeoutMs,
    });
    const timer = setTimeout(() => {
      upstream.destroy();
      refuse(504, { ...result.decision, reason: `${url.host} did not accept the connection in time` });
    }, this.connectTimeoutMs);
    upstream.once('socket', (s: Socket) => {
      this.track(s);
      s.once('connect', () => clearTimeout(timer));
    });
    upstream.on('timeout', () => upstream.destroy(new Error('idle timeout')));
    upstream.on('error', (err) => {
      clearTimeout(timer);
      if (streaming) res.destroy();
      else refuse(502, { ...result.decision, reason: `request to ${url.host} failed: ${err.message}` });
    });
    upstream.on('response', (upRes) => {
      if (answered) return upRes.destroy();
      const status = upRes.statusCode ?? 0;
      // The target's status line is untrusted: Node's client accepts lines its server refuses to write (status 099,
      // control characters in the reason). Only a valid code is relayed, with the standard reason, never the target's.
      if (!Number.isInteger(status) || status < 100 || status > 599) {
        upRes.destroy();
        upstream.destroy();
        return refuse(502, { ...result.decision, reason: `${url.host} answered with an invalid status line` });
      }
      try {
        res.writeHead(status, STATUS_CODES[status] ?? 'Unknown', endToEndHeaders(upRes.headers));
      } catch (err) {
        upRes.destroy();
        upstream.destroy();
        return refuse(502, { ...result.decision, reason: `${url.host} answered with headers that cannot be relayed: ${(err as Error).message}` });
      }
      answered = streaming = true;
      upRes.on('error', () => res.destroy());
      res.flushHeaders();
      upRes.pipe(res);
    });
    res.on('close', () => {
      clearTimeout(timer);
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex): void {
    socket.on('error', () => socket.destroy());
    const tenant = this.tenantOf(req.socket) ?? '(unknown)';
    const decision: EgressDecision = {
      allowed: false,
      rule: 'bad-request',
      reason: 'upgrades (websockets) through the proxy must use CONNECT',
    };
    socket.end(this.denialHead(501, decision, denialText(req.method ?? 'GET', req.url ?? '', tenant, decision)));
  }
}
