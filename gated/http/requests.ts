// What the HTTP listener does with a request, decided before anything runs (pure, table-tested): who it is (the bearer
// token alone), whether it may reach a session, and which one. Also the listener's configuration from the environment.
import { createHash, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { InitializeRequestSchema } from '@modelcontextprotocol/sdk/types.js';

/** The one path the listener serves. */
export const MCP_PATH = '/mcp';

/** A run's token: `wgr_` and 32 random bytes in base64url. Only its SHA-256 is kept. */
export const RUN_TOKEN = /^wgr_[A-Za-z0-9_-]{43}$/;

export function newRunToken(): { token: string; hash: string } {
  const token = `wgr_${randomBytes(32).toString('base64url')}`;
  return { token, hash: tokenHash(token) };
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The hash of the token an Authorization header presents, or null when it presents none of the issued shape. */
export function presentedTokenHash(authorization: string | undefined): string | null {
  const match = /^Bearer ([^\s]+)$/.exec(authorization ?? '');
  if (!match || !RUN_TOKEN.test(match[1]!)) return null;
  return tokenHash(match[1]!);
}

export interface Refusal {
  status: number;
  /** JSON-RPC error code of the body. */
  code: number;
  message: string;
  /** End the connection with the answer (a body was left unread). */
  close?: boolean;
}

/** -32001 is what the SDK answers for a session it does not know; -32000 its generic server error. */
const UNKNOWN_SESSION = -32001;
const SERVER_ERROR = -32000;
const INVALID_REQUEST = -32600;

/**
 * The first check, before a byte of the body is read: a request without a live token is refused alike whatever it
 * is (nothing about the listener is revealed to it), then the path and the method.
 */
export function checkRequest(
  request: { method: string; path: string; authorization: string | undefined },
  tokenIsLive: (hash: string) => boolean,
): { ok: true; tokenHash: string } | { ok: false; refusal: Refusal } {
  const hash = presentedTokenHash(request.authorization);
  if (hash === null || !tokenIsLive(hash)) {
    return { ok: false, refusal: { status: 401, code: SERVER_ERROR, message: 'a live run token is required (Authorization: Bearer wgr_...)' } };
  }
  if (request.path !== MCP_PATH) return { ok: false, refusal: { status: 404, code: SERVER_ERROR, message: `not found: MCP is served on ${MCP_PATH}` } };
  if (!['POST', 'GET', 'DELETE'].includes(request.method)) {
    return { ok: false, refusal: { status: 405, code: SERVER_ERROR, message: 'method not allowed: POST, GET or DELETE' } };
  }
  return { ok: true, tokenHash: hash };
}

export type SessionRoute = { kind: 'existing'; sessionId: string } | { kind: 'open' } | { kind: 'refuse'; refusal: Refusal };

/**
 * Which session a request of a live token goes to. A session id is looked up among the token's own sessions only, so a
 * token can never reach another run's session (it is "not found", as an unknown one). Without a session id the only
 * thing a client may send is one well-formed `initialize`, which opens a session if the token has room for one.
 */
export function sessionRoute(request: {
  method: string;
  sessionId: string | undefined;
  body: unknown;
  ownSession: (id: string) => boolean;
  sessionsOfToken: number;
  maxSessionsPerToken: number;
}): SessionRoute {
  if (request.sessionId !== undefined) {
    if (!request.ownSession(request.sessionId)) return { kind: 'refuse', refusal: { status: 404, code: UNKNOWN_SESSION, message: 'Session not found' } };
    return { kind: 'existing', sessionId: request.sessionId };
  }
  if (request.method !== 'POST' || !InitializeRequestSchema.safeParse(request.body).success) {
    return {
      kind: 'refuse',
      refusal: { status: 400, code: INVALID_REQUEST, message: 'no session: send one "initialize" request first (without an Mcp-Session-Id header)' },
    };
  }
  if (request.sessionsOfToken >= request.maxSessionsPerToken) {
    return {
      kind: 'refuse',
      refusal: { status: 429, code: SERVER_ERROR, message: `this run already has ${request.maxSessionsPerToken} sessions open (the limit); close one first` },
    };
  }
  return { kind: 'open' };
}

/** What one token's clients may hold (defaults in DEFAULT_HTTP_BOUNDS). */
export interface HttpBounds {
  /** A request body larger than this is refused with 413 (checked by Content-Length, then while reading). */
  maxBodyBytes: number;
  /** Sessions one run token may hold open at once. */
  maxSessionsPerToken: number;
  /** A session with nothing in flight and no request for this long is closed (the SDK would keep it forever). */
  idleSessionMs: number;
  /** Requests of one session not yet answered; past it a request is refused. */
  maxInFlight: number;
  /** TCP connections the listener accepts at once. */
  maxConnections: number;
  /**
   * A connection whose TLS handshake and first request have not both arrived this long after it opened is closed:
   * before a request nothing is known of it, and idle ones must not hold the connection slots.
   */
  firstRequestMs: number;
}

export const DEFAULT_HTTP_BOUNDS: HttpBounds = {
  maxBodyBytes: 4 * 1024 * 1024,
  maxSessionsPerToken: 4,
  idleSessionMs: 10 * 60_000,
  maxInFlight: 16,
  maxConnections: 256,
  firstRequestMs: 10_000,
};

/** `WARREN_GATED_HTTP=host:port` (`[v6]:port` for IPv6); unset or empty is off. Throws with the reason. */
export function parseListenAddress(text: string | undefined): { host: string; port: number } | null {
  if (text === undefined || text.trim() === '') return null;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || !host || port > 65535) throw new Error(`WARREN_GATED_HTTP="${text}": expected host:port, e.g. 0.0.0.0:7443`);
  if (match[1] !== undefined && isIP(host) !== 6) throw new Error(`WARREN_GATED_HTTP="${text}": [${host}] is not an IPv6 address`);
  return { host, port };
}

/** The address runs are given: the listen host, or for a wildcard listen the first configured name (else localhost). */
export function advertisedUrl(listenHost: string, port: number, firstSan: string | undefined): string {
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::';
  const host = wildcard ? (firstSan ?? 'localhost') : listenHost;
  return `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}${MCP_PATH}`;
}
