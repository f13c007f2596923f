// Tokens: a secret shown exactly once; only its SHA-256 is stored.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { canonicalTenant, requireChat } from './targets.js';
import { isStrictDescendant, type TenantPath } from '../../core/tenant-path.js';
import type { GatedStore } from '../store.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';
import { TOPIC } from './topics.js';

export const MAX_TTL_S = 90 * 24 * 3600;

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Stores a new token (its hash only) and returns the secret, which exists nowhere else from then on. */
export function mintToken(
  store: GatedStore,
  t: { tenant: TenantPath; kind: 'chat_link' | 'webhook' | 'invite'; target: string; ttlS: number },
): { id: string; secret: string; expiresAt: Date } {
  const secret = `wrn_${randomBytes(32).toString('base64url')}`;
  const id = `tok_${randomUUID().slice(0, 8)}`;
  const expiresAt = new Date(Date.now() + t.ttlS * 1000);
  store.addToken({ id, tenant: t.tenant, kind: t.kind, target: t.target, hash: hashToken(secret), expiresAt });
  return { id, secret, expiresAt };
}

/** Each kind names what its target is; the target must lie within the caller's reach. */
function canonicalTarget(ctx: ToolContext, kind: 'chat_link' | 'webhook' | 'invite', raw: string): string {
  if (kind === 'chat_link') return requireChat(raw);
  if (kind === 'webhook') {
    if (!TOPIC.test(raw)) throw new ToolError(`"${raw}" is not a valid topic name for a webhook`);
    return raw;
  }
  const group = canonicalTenant(raw);
  if (!group || (group !== ctx.tenant && !isStrictDescendant(group, ctx.tenant))) {
    throw new ToolError(`an invite can only target your own group or a descendant, not "${raw}"`);
  }
  return group;
}

export const issueToken = defineTool({
  name: 'issue_token',
  description:
    'Issue a token (chat_link: target is a chat id; webhook: target is a topic; invite: target is a group). ' +
    'The secret is returned once and never stored.',
  input: z
    .object({
      kind: z.enum(['chat_link', 'webhook', 'invite']),
      target: z.string().min(1).max(256),
      ttl: z.number().int().min(60).max(MAX_TTL_S).describe('lifetime in seconds'),
    })
    .strict(),
  handler(ctx, { kind, target, ttl }) {
    const canonical = canonicalTarget(ctx, kind, target);
    const { id, secret, expiresAt } = mintToken(ctx.store, { tenant: ctx.tenant, kind, target: canonical, ttlS: ttl });
    return {
      text: `token ${id} (${kind} -> ${canonical}) expires ${expiresAt.toISOString()}. Secret (shown once): ${secret}`,
      data: { id, kind, target: canonical, expires_at: expiresAt.toISOString(), secret },
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
