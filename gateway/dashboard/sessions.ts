// Dashboard sessions, in memory: a login (the operator token or a scoped token) becomes a random session id in an
// HttpOnly cookie, with its principal and a CSRF token; a one-time login code (printed by `warren up`) is exchanged
// once for a session. Sessions expire; a session of a scoped token ends when the token is revoked or expires.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../http/principals.js';

export const SESSION_COOKIE = 'warren_session';
export const SESSION_TTL_MS = 8 * 3600_000;
export const LOGIN_CODE_TTL_MS = 5 * 60_000;
/** Bounds memory: the oldest session goes when a login would pass this. */
export const MAX_SESSIONS = 1000;

export interface Session {
  id: string;
  principal: Principal;
  csrf: string;
  expiresAt: number;
  /** False once the token behind the session no longer stands for its principal (revoked, expired). */
  stillValid(): boolean;
}

const randomId = () => randomBytes(32).toString('base64url');

/** Whether a presented CSRF token is the session's, in constant time. PURE. */
export function csrfMatches(expected: string, presented: string | undefined): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header. PURE. */
export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export class DashboardSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly codes = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  open(principal: Principal, stillValid: () => boolean = () => true): Session {
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const session: Session = { id: randomId(), principal, csrf: randomId(), expiresAt: this.now() + SESSION_TTL_MS, stillValid };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session a cookie header names, or null (none, unknown, expired, or its token is gone). */
  fromCookie(header: string | undefined): Session | null {
    const id = cookieValue(header, SESSION_COOKIE);
    const session = id ? this.sessions.get(id) : undefined;
    if (!session) return null;
    if (session.expiresAt <= this.now() || !session.stillValid()) {
      this.sessions.delete(session.id);
      return null;
    }
    return session;
  }

  close(id: string): void {
    this.sessions.delete(id);
  }

  /** A single-use login code for `principal`, valid LOGIN_CODE_TTL_MS. */
  loginCode(principal: Principal): string {
    const code = randomId();
    this.codes.set(code, { principal, expiresAt: this.now() + LOGIN_CODE_TTL_MS });
    return code;
  }

  /** Exchanges a login code for a session, once; null when it is unknown, used or expired. */
  redeem(code: string): Session | null {
    const entry = this.codes.get(code);
    this.codes.delete(code);
    for (const [c, e] of this.codes) if (e.expiresAt <= this.now()) this.codes.delete(c);
    if (!entry || entry.expiresAt <= this.now()) return null;
    return this.open(entry.principal);
  }
}
