// The audit log: one row per tool call. It records what was decided and the shape of the arguments, never their
// values (a SHA-256 digest lets an operator confirm a suspected value without the log holding it).
import { createHash } from 'node:crypto';
import type { Db } from '../core/db.js';

export type AuditDecision = 'allow' | 'deny' | 'unknown' | 'invalid';
export type AuditOutcome = 'ok' | 'error' | 'denied';

export interface AuditEntry {
  tenant: string;
  run: string | null;
  tool: string;
  decision: AuditDecision;
  rule: string | null;
  durationUs: number;
  outcome: AuditOutcome;
  args: unknown;
}

export interface AuditRow {
  id: number;
  time: string;
  tenant: string;
  run: string | null;
  tool: string;
  decision: AuditDecision;
  rule: string | null;
  duration_us: number;
  outcome: AuditOutcome;
  args_digest: string;
  args_shape: string;
}

/** Keys and types, recursively, with array lengths; never a value. */
export function shapeOf(value: unknown, depth = 0): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    if (depth >= 4) return `array(${value.length})`;
    return value.length === 0 ? [] : [shapeOf(value[0], depth + 1), `x${value.length}`];
  }
  if (typeof value === 'object') {
    if (depth >= 4) return 'object';
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort().slice(0, 64)) {
      out[key] = shapeOf((value as Record<string, unknown>)[key], depth + 1);
    }
    return out;
  }
  return typeof value;
}

/** JSON with sorted keys, so equal arguments always give equal digests. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  }) ?? 'null';
}

export function argsDigest(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args ?? {})).digest('hex');
}

export class AuditLog {
  private readonly insert;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO audit (time, tenant, run, tool, decision, rule, duration_us, outcome, args_digest, args_shape)
       VALUES (@time, @tenant, @run, @tool, @decision, @rule, @duration_us, @outcome, @args_digest, @args_shape)`,
    );
  }

  /** Synchronous on purpose: a call's audit row is durable (WAL) before its result reaches the agent. */
  record(e: AuditEntry): void {
    this.insert.run({
      time: new Date().toISOString(),
      tenant: e.tenant,
      run: e.run,
      tool: e.tool.slice(0, 200),
      decision: e.decision,
      rule: e.rule,
      duration_us: Math.round(e.durationUs),
      outcome: e.outcome,
      args_digest: argsDigest(e.args),
      args_shape: JSON.stringify(shapeOf(e.args ?? {})),
    });
  }

  query(filter: { tenant?: string; denied?: boolean; limit?: number } = {}): AuditRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit ?? 100 };
    if (filter.tenant) {
      where.push('tenant = @tenant');
      params.tenant = filter.tenant;
    }
    if (filter.denied) where.push("decision != 'allow'");
    const sql = `SELECT * FROM (SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
                 ORDER BY id DESC LIMIT @limit) ORDER BY id`;
    return this.db.prepare(sql).all(params) as AuditRow[];
  }
}
