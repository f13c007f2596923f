// Tokens: a secret shown exactly once; only its SHA-256 is stored. A webhook may also get an HMAC key (shown once
// too), stored sealed with a key derived from the hook's URL secret: verifying a signature needs both the URL, which
// only the sender has, and the database. Neither a leaked URL nor a leaked database alone lets anyone sign.
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { canonicalTenant, requireChat } from './targets.js';
import { isStrictDescendant, type TenantPath } from '../../core/tenant-path.js';
import type { GatedStore } from '../store.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';

export const MAX_TTL_S = 90 * 24 * 3600;
export type TokenKind = 'chat_link' | 'webhook' | 'invite';

/** A webhook's name: the part after `hook:` in its chat id. */
export const HOOK_NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * The chat id a webhook token targets: `hook:<name>` (given as `deploys` or `hook:deploys`). A hook chat belongs to
 * the subtree that first issued a token for it: a tenant may issue one only when every earlier issuer for that chat
 * is itself or one of its descendants, so no tenant can post into a hook chat another subtree's agent is wired to.
 */
export function webhookTarget(store: GatedStore, issuer: TenantPath, raw: string): string {
  const lower = raw.trim().toLowerCase();
  const name = lower.startsWith('hook:') ? lower.slice(5) : lower;
  if (!HOOK_NAME.test(name)) {
    throw new ToolError(`"${raw}" is not a webhook name: use hook:<name>, the name in a-z, 0-9 and "_.-" (at most 64)`);
  }
  const chat = `hook:${name}`;
  const foreign = store.tokenTargetOwners('webhook', chat).find((t) => t !== issuer && !isStrictDescendant(t as TenantPath, issuer));
  if (foreign) throw new ToolError(`${chat} belongs to another subtree (${foreign}); pick another name`);
  return chat;
}

/** Each kind names what its target is; the target must lie within the caller's reach. */
function canonicalTarget(ctx: ToolContext, kind: TokenKind, raw: string): string {
  if (kind === 'chat_link') return requireChat(raw);
  if (kind === 'webhook') return webhookTarget(ctx.store, ctx.tenant, raw);
  const group = canonicalTenant(raw);
  if (!group || (group !== ctx.tenant && !isStrictDescendant(group, ctx.tenant))) {
    throw new ToolError(`an invite can only target your own group or a descendant, not "${raw}"`);
  }
  return group;
}

export interface MintedToken {
  id: string;
  kind: TokenKind;
  target: string;
  expiresAt: Date;
  /** Shown once, never stored. */
  secret: string;
  /** A webhook's HMAC key, when asked for: shown once, stored only sealed. */
  hmacKey: string | null;
}

/** Creates a token for a target already checked; the one way tokens are made (the tool and `warren hooks`). */
export function mintToken(
  store: GatedStore,
  t: { tenant: TenantPath; kind: TokenKind; target: string; ttlS: number; hmac?: boolean },
): MintedToken {
  const secret = `wrn_${randomBytes(32).toString('base64url')}`;
  const id = `tok_${randomUUID().slice(0, 8)}`;
  const expiresAt = new Date(Date.now() + t.ttlS * 1000);
  const hmacKey = t.hmac ? `whs_${randomBytes(32).toString('base64url')}` : null;
  store.addToken({
    id,
    tenant: t.tenant,
    kind: t.kind,
    target: t.target,
    hash: hashToken(secret),
    expiresAt,
    hmac: hmacKey === null ? null : sealHmacKey(secret, hmacKey),
  });
  return { id, kind: t.kind, target: t.target, expiresAt, secret, hmacKey };
}

const sealingKey = (secret: string) => createHash('sha256').update('warren-hook-hmac\0').update(secret).digest();

export function sealHmacKey(secret: string, hmacKey: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(secret), nonce);
  const sealed = Buffer.concat([cipher.update(hmacKey, 'utf8'), cipher.final()]);
  return ['v1', nonce, sealed, cipher.getAuthTag()].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** The HMAC key sealed for `secret`, or null when it does not open (a damaged row: the hook then refuses). */
export function openHmacKey(secret: string, sealed: string): string | null {
  const [version, nonce, data, tag] = sealed.split('.');
  if (version !== 'v1' || !nonce || !data || !tag) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealingKey(secret), Buffer.from(nonce, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

export const issueToken = defineTool({
  name: 'issue_token',
  description:
    'Issue a token (chat_link: target is a chat id such as web:<name>; webhook: target is hook:<name>, hmac=true ' +
    'adds a signing key; invite: target is a group). The secret is returned once and never stored.',
  input: z
    .object({
      kind: z.enum(['chat_link', 'webhook', 'invite']),
      target: z.string().min(1).max(256),
      ttl: z.number().int().min(60).max(MAX_TTL_S).describe('lifetime in seconds'),
      hmac: z.boolean().optional().describe('webhook only: also issue an HMAC key for X-Hub-Signature-256'),
    })
    .strict(),
  handler(ctx, { kind, target, ttl, hmac }) {
    if (hmac && kind !== 'webhook') throw new ToolError('hmac applies to webhook tokens only');
    const canonical = canonicalTarget(ctx, kind, target);
    const t = mintToken(ctx.store, { tenant: ctx.tenant, kind, target: canonical, ttlS: ttl, hmac });
    const signing = t.hmacKey ? ` HMAC key (shown once): ${t.hmacKey}` : '';
    return {
      text: `token ${t.id} (${kind} -> ${canonical}) expires ${t.expiresAt.toISOString()}. Secret (shown once): ${t.secret}${signing}`,
      data: {
        id: t.id,
        kind,
        target: canonical,
        expires_at: t.expiresAt.toISOString(),
        secret: t.secret,
        ...(t.hmacKey ? { hmac_key: t.hmacKey } : {}),
      },
    };
  },
});

export const revokeToken = defineTool({
  name: 'revoke_token',
  description: 'Revoke one of your tokens by id.',
  input: z.object({ id: z.string().min(1).max(64) }).strict(),
  handler(ctx, { id }) {
    if (!ctx.store.revokeToken(ctx.tenant, id)) throw new ToolError(`you have no active token ${id}`);
    return { text: `revoked ${id}` };
  },
});

export const listTokens = defineTool({
  name: 'list_tokens',
  description: 'List your tokens (never their secrets).',
  input: z.object({}).strict(),
  handler(ctx) {
    const tokens = ctx.store.tokens(ctx.tenant);
    return { text: JSON.stringify(tokens), data: { tokens } };
  },
});

export const tokenTools = [issueToken, revokeToken, listTokens];
