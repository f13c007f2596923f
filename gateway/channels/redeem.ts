// Redeeming a token a stranger presents (a webhook URL, a chat link). The secret is looked up by its SHA-256, so the
// database never holds it and the lookup's timing depends on the hash, not on the secret. Unknown, wrong-kind,
// expired and revoked tokens all give the same null, so a caller learns nothing by probing.
import type { GatedStore, TokenRecord } from '../../gated/store.js';
import { hashToken, type TokenKind } from '../../gated/tools/tokens.js';

/** Secrets are `wrn_` + 43 base64url characters; anything else is refused before touching the database. */
const SECRET = /^wrn_[A-Za-z0-9_-]{43}$/;

/** Why a token no longer opens anything, or null when it is live: pure, so tests pin it down by table. */
export function tokenProblem(t: Pick<TokenRecord, 'expires_at' | 'revoked_at'>, now: number): 'revoked' | 'expired' | null {
  if (t.revoked_at !== null) return 'revoked';
  const expires = Date.parse(t.expires_at);
  if (!Number.isFinite(expires) || expires <= now) return 'expired';
  return null;
}

export function redeemToken(store: GatedStore, kind: TokenKind, secret: string, now = Date.now()): TokenRecord | null {
  if (!SECRET.test(secret)) return null;
  const token = store.tokenByHash(hashToken(secret));
  if (!token || token.kind !== kind || tokenProblem(token, now) !== null) return null;
  return token;
}

/** The same token again, by id: still live? (A web chat session checks this on every request and stream tick.) */
export function tokenStillLive(store: GatedStore, id: string, now = Date.now()): boolean {
  const token = store.tokenById(id);
  return token !== undefined && tokenProblem(token, now) === null;
}
