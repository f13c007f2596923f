// The one query of crackbox's egress log (the egress_log table, which only crackbox writes). In core so that
// `warren egress log` (crackbox) and the gateway's read facade (the HTTP API) run the same query without the gateway
// importing crackbox.
import type { Db } from './db.js';

export interface EgressQuery {
  /** This tenant and every tenant below it. */
  tenant?: string;
  deniedOnly?: boolean;
  /** Newest first; default 50. */
  limit?: number;
}

export interface EgressLogRow {
  id: number;
  /** ms since epoch */
  time: number;
  tenant: string;
  kind: 'dns' | 'connect' | 'http';
  name: string;
  port: number | null;
  allowed: boolean;
  rule: string;
  reason: string;
}

export function queryEgressLog(db: Db, q: EgressQuery = {}): EgressLogRow[] {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: Math.max(1, Math.floor(q.limit ?? 50)) };
  if (q.tenant !== undefined) {
    where.push(`(tenant = @tenant OR substr(tenant, 1, length(@tenant) + 1) = @tenant || '/')`);
    params.tenant = q.tenant;
  }
  if (q.deniedOnly) where.push('allowed = 0');
  const sql = `SELECT id, time, tenant, kind, name, port, allowed, rule, reason FROM egress_log
    ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY time DESC, id DESC LIMIT @limit`;
  return (db.prepare(sql).all(params) as (Omit<EgressLogRow, 'allowed'> & { allowed: number })[]).map((r) => ({
    ...r,
    allowed: r.allowed === 1,
  }));
}
