// The audit log: one row per tool call. It records what was decided and the shape of the arguments, never their
// values (a SHA-256 digest lets an operator confirm a suspected value without the log holding it).
import { createHash } from 'node:crypto';
import type { Db } from '../core/db.js';

export type AuditDecision = 'allow' | 'deny' | 'unknown' | 'invalid';
export type AuditOutcome = 'ok' | 'error' | 'denied';

export interface AuditEntry {
  /** When the call was decided; defaults to when it is recorded. */
  time?: string;
  tenant: string;
  run: string | null;
  tool: string;
  decision: AuditDecision;
  rule: string | null;
  durationUs: number;
  outcome: AuditOutcome;
  args: unknown;
}

function toRow(e: AuditEntry) {
  return {
    time: e.time,
    tenant: e.tenant,
    run: e.run,
    tool: e.tool.slice(0, 200),
    decision: e.decision,
    rule: e.rule,
    duration_us: Math.round(e.durationUs),
    outcome: e.outcome,
    args_digest: argsDigest(e.args),
    args_shape: JSON.stringify(shapeOf(e.args ?? {})),
  };
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
  private readonly insertBatch;
  private pending: AuditEntry[] = [];
  private waiters: { resolve(): void; reject(error: unknown): void }[] = [];
  private scheduled = false;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO audit (time, tenant, run, tool, decision, rule, duration_us, outcome, args_digest, args_shape)
       VALUES (@time, @tenant, @run, @tool, @decision, @rule, @duration_us, @outcome, @args_digest, @args_shape)`,
    );
    this.insertBatch = db.transaction((rows: AuditEntry[]) => {
      for (const e of rows) this.insert.run(toRow(e));
    });
  }

  /**
   * Group commit: rows recorded in the same turn of the event loop are written in one transaction, and the promise
   * resolves once they are. Callers await it before answering, so a call's audit row is in the WAL before its result
   * reaches the agent — at a fraction of the cost of one transaction per call.
   */
  record(e: AuditEntry): Promise<void> {
    this.pending.push({ ...e, time: e.time ?? new Date().toISOString() });
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  /** Writes everything recorded so far (also called on shutdown). */
  flush(): void {
    this.scheduled = false;
    const rows = this.pending;
    const waiters = this.waiters;
    this.pending = [];
    this.waiters = [];
    if (rows.length === 0) return;
    try {
      // One row commits on its own (autocommit is one statement, not three); more go in one transaction.
      if (rows.length === 1) this.insert.run(toRow(rows[0]!));
      else this.insertBatch(rows);
      for (const w of waiters) w.resolve();
    } catch (error) {
      for (const w of waiters) w.reject(error);
    }
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
