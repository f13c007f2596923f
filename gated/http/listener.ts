// gated's HTTPS listener: MCP over Streamable HTTP for runs that cannot reach a unix socket (tasks on other nodes).
// The identity of every request is the run token it presents, and nothing else: each live token is bound to one run's
// protocol (its tenant, its run, its grants, made by the broker exactly as for that run's socket) and to the sessions it
// opened. Tokens live only as SHA-256 hashes in this process: a gated restart ends every run anyway.
import { createServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { ProtocolDeps } from '../session.js';
import { checkRequest, newRunToken, sessionRoute, type HttpBounds, type Refusal } from './requests.js';
import { answerError, HttpSession } from './session.js';

interface RunBinding {
  deps: ProtocolDeps;
  log: Logger;
  /** The sessions this token opened, by session id: the only ones its requests can reach. */
  sessions: Map<string, HttpSession>;
  /** Sessions being opened (initialize in progress), counted against the cap too. */
  opening: Set<HttpSession>;
}

export interface HttpListenerOptions {
  host: string;
  port: number;
  certPem: string;
  keyPem: string;
  bounds: HttpBounds;
  log: Logger;
}

export class HttpListener {
  private readonly server: HttpsServer;
  private readonly runs = new Map<string, RunBinding>();
  private readonly sockets = new Set<Socket>();
  /** Connections that have sent no request yet, with the timer that closes them. */
  private readonly awaitingRequest = new Map<Socket, NodeJS.Timeout>();
  private reaper: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly options: HttpListenerOptions) {
    // Before its first request a connection is nobody's: its handshake and that request are bounded in time, so idle
    // connections (no token needed to open one) cannot keep the connection slots from the runs.
    const handshakeTimeout = options.bounds.firstRequestMs;
    this.server = createServer({ cert: options.certPem, key: options.keyPem, minVersion: 'TLSv1.2', handshakeTimeout }, (req, res) => {
      clearTimeout(this.awaitingRequest.get(req.socket));
      this.awaitingRequest.delete(req.socket);
      // Whatever goes wrong with one request is that request's 500, never gated's crash.
      this.serve(req, res).catch((error: unknown) => {
        options.log.error({ err: error }, 'HTTP request failed');
        answerError(res, 500, null, -32603, 'internal error (see the gated log)');
      });
    });
    this.server.maxConnections = options.bounds.maxConnections;
    // Slow clients are bounded while they send a request; answers (a held next_turn) may take as long as they take.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.on('secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      const timer = setTimeout(() => socket.destroy(), options.bounds.firstRequestMs);
      timer.unref();
      this.awaitingRequest.set(socket, timer);
      socket.once('close', () => {
        clearTimeout(timer);
        this.awaitingRequest.delete(socket);
        this.sockets.delete(socket);
      });
    });
    this.server.on('tlsClientError', (error) => options.log.debug({ err: error }, 'TLS handshake failed'));
    this.server.on('error', (error) => options.log.error({ err: error }, 'HTTP listener error'));
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const every = Math.max(50, Math.min(30_000, Math.floor(this.options.bounds.idleSessionMs / 2)));
    this.reaper = setInterval(() => this.reapIdle(), every);
    this.reaper.unref();
    return this.address();
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Sessions open for all runs (for tests and the log). */
  get sessionCount(): number {
    let n = 0;
    for (const run of this.runs.values()) n += run.sessions.size + run.opening.size;
    return n;
  }

  /** Requests in flight over all sessions (for tests). */
  get requestsInFlight(): number {
    let n = 0;
    for (const run of this.runs.values()) for (const s of run.sessions.values()) n += s.requestsInFlight;
    return n;
  }

  /**
   * A new token for one run's protocol. `revoke` forgets it and closes its sessions: from then on it is as unknown
   * as a token never issued.
   */
  addRun(deps: ProtocolDeps, log: Logger): { token: string; revoke(): Promise<void> } {
    const { token, hash } = newRunToken();
    const binding: RunBinding = { deps, log, sessions: new Map(), opening: new Set() };
    this.runs.set(hash, binding);
    return {
      token,
      revoke: async () => {
        if (this.runs.get(hash) !== binding) return;
        this.runs.delete(hash);
        await Promise.all([...binding.sessions.values(), ...binding.opening].map((s) => s.close()));
      },
    };
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'https://gated').pathname;
    const checked = checkRequest({ method: req.method ?? '', path, authorization: req.headers.authorization }, (hash) => this.runs.has(hash));
    if (!checked.ok) return refuse(res, { ...checked.refusal, close: req.method === 'POST' }); // its body is never read
    const binding = this.runs.get(checked.tokenHash)!;
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readBody(req, this.options.bounds.maxBodyBytes);
      if (!read.ok) return refuse(res, read.refusal);
      body = read.body;
    }
    // The token may have been revoked while the body was read.
    if (this.runs.get(checked.tokenHash) !== binding) return refuse(res, { status: 401, code: -32000, message: 'a live run token is required (Authorization: Bearer wgr_...)' });
    const sessionHeader = req.headers['mcp-session-id'];
    const route = sessionRoute({
      method: req.method ?? '',
      sessionId: typeof sessionHeader === 'string' ? sessionHeader : undefined,
      body,
      ownSession: (id) => binding.sessions.has(id),
      sessionsOfToken: binding.sessions.size + binding.opening.size,
      maxSessionsPerToken: this.options.bounds.maxSessionsPerToken,
    });
    if (route.kind === 'refuse') return refuse(res, route.refusal);
    if (route.kind === 'existing') return binding.sessions.get(route.sessionId)!.handle(req, res, body);
    await this.open(binding, req, res, body);
  }

  /** A new session for the token's run, registered under the id the SDK gives it once `initialize` is accepted. */
  private async open(binding: RunBinding, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const session = new HttpSession(binding.deps, {
      maxInFlight: this.options.bounds.maxInFlight,
      log: binding.log,
      onInitialized: (id) => {
        binding.opening.delete(session);
        binding.sessions.set(id, session);
        binding.log.debug({ session: id, sessions: binding.sessions.size }, 'HTTP session opened');
      },
    });
    session.onclose = () => {
      binding.opening.delete(session);
      if (session.id !== undefined && binding.sessions.get(session.id) === session) binding.sessions.delete(session.id);
      binding.log.debug({ session: session.id }, 'HTTP session closed');
    };
    binding.opening.add(session);
    try {
      await session.start();
      await session.handle(req, res, body);
    } finally {
      // An initialize the SDK refused (or that failed) opened nothing: nothing of it is kept.
      if (session.id === undefined || binding.sessions.get(session.id) !== session) await session.close();
    }
  }

  private reapIdle(): void {
    const cutoff = Date.now() - this.options.bounds.idleSessionMs;
    for (const binding of this.runs.values()) {
      for (const session of binding.sessions.values()) {
        if (session.busy || session.lastActive > cutoff) continue;
        binding.log.info({ session: session.id, idleMs: this.options.bounds.idleSessionMs }, 'idle HTTP session closed');
        void session.close();
      }
    }
  }

  /** Every token forgotten, every session closed, every connection ended. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.reaper) clearInterval(this.reaper);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const sessions = [...this.runs.values()].flatMap((b) => [...b.sessions.values(), ...b.opening]);
    this.runs.clear();
    await Promise.all(sessions.map((s) => s.close()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

function refuse(res: ServerResponse, refusal: Refusal): void {
  const headers: Record<string, string> = refusal.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  // A body left unread is not drained: the connection ends with the answer.
  if (refusal.close) headers.connection = 'close';
  answerError(res, refusal.status, null, refusal.code, refusal.message, headers);
}

/**
 * The body as JSON, at most `maxBytes`: a larger Content-Length is refused before reading, a body that grows past it
 * as soon as it does. Reading then stops; the refusal closes the connection rather than draining the rest.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<{ ok: true; body: unknown } | { ok: false; refusal: Refusal }> {
  const tooLarge = { ok: false as const, refusal: { status: 413, code: -32000, message: `request body exceeds ${maxBytes} bytes`, close: true } };
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: { ok: true; body: unknown } | { ok: false; refusal: Refusal }) => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else {
        req.pause();
        done(tooLarge);
      }
    };
    const onEnd = () => {
      try {
        done({ ok: true, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch {
        done({ ok: false, refusal: { status: 400, code: -32700, message: 'the request body is not valid JSON' } });
      }
    };
    const onError = () => done({ ok: false, refusal: { status: 400, code: -32700, message: 'the request body could not be read', close: true } });
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
