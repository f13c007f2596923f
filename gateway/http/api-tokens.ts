// The table of scoped API tokens (`warren tokens issue|list|revoke`). A secret is 32 random bytes shown once; the
// table keeps its SHA-256, and a presented token is found by the hash of what was presented (an indexed lookup, so
// no byte of a secret is ever compared in JavaScript).
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../../core/db.js';
import type { TenantPath } from '../../core/tenant-path.js';
import type { Access, Principal } from './principals.js';

export const TOKEN_PREFIX = 'wtk_';

export interface ApiTokenRow {
  id: string;
  scope: TenantPath;
  access: Access;
  note: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

const hashOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Parses "30m", "12h", "7d" into milliseconds; null when it is not such a duration. PURE. */
export function parseTtl(text: string): number | null {
  const m = /^([1-9][0-9]{0,5})([mhd])$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}

export class ApiTokens {
  private byHash: ReturnType<Db['prepare']> | null = null;

  constructor(private readonly db: Db) {}

  issue(opts: { scope: TenantPath; access: Access; ttlMs?: number; note?: string; now?: Date }): { token: string; row: ApiTokenRow } {
    const now = opts.now ?? new Date();
    const id = `tk_${randomBytes(6).toString('hex')}`;
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const row: ApiTokenRow = {
      id,
      scope: opts.scope,
      access: opts.access,
      note: opts.note ?? null,
      created_at: now.toISOString(),
      expires_at: opts.ttlMs === undefined ? null : new Date(now.getTime() + opts.ttlMs).toISOString(),
      revoked_at: null,
    };
    this.db
      .prepare(
        `INSERT INTO api_tokens (id, scope, access, hash, note, created_at, expires_at, revoked_at)
         VALUES (@id, @scope, @access, @hash, @note, @created_at, @expires_at, NULL)`,
      )
      .run({ ...row, hash: hashOf(token) });
    return { token, row };
  }

  list(): ApiTokenRow[] {
    return this.db.prepare(`SELECT id, scope, access, note, created_at, expires_at, revoked_at FROM api_tokens ORDER BY created_at, id`).all() as ApiTokenRow[];
  }

  /** True when a live token was revoked now. */
  revoke(id: string, now = new Date()): boolean {
    return this.db.prepare(`UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`).run(now.toISOString(), id).changes > 0;
  }

  /** The principal a presented token stands for, or null (unknown, revoked or expired: all fail the same way). */
  principal(presented: string, now = new Date()): Principal | null {
    if (!presented.startsWith(TOKEN_PREFIX)) return null;
    this.byHash ??= this.db.prepare(`SELECT * FROM api_tokens WHERE hash = ?`);
    const row = this.byHash.get(hashOf(presented)) as (ApiTokenRow & { hash: string }) | undefined;
    if (!row || row.revoked_at !== null) return null;
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime()) return null;
    return { kind: 'scoped', id: row.id, scope: row.scope, access: row.access };
  }
}
