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
  let digest: string;
  let shape: string;
  try {
    digest = argsDigest(e.args);
    shape = JSON.stringify(shapeOf(e.args ?? {}));
  } catch {
    // Whatever the arguments were, the call still gets its row.
    digest = 'unavailable';
    shape = '"unavailable"';
  }
  return {
    time: e.time,
    tenant: e.tenant,
    run: e.run,
    tool: e.tool.slice(0, 200),
    decision: e.decision,
    rule: e.rule,
    duration_us: Math.round(e.durationUs),
    outcome: e.outcome,
    args_digest: digest,
    args_shape: shape,
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

/** Nesting beyond this is written as "[too deep]": an agent's arguments can be anything, the audit must not fail. */
export const MAX_AUDIT_DEPTH = 64;

/** JSON with sorted keys, so equal arguments always give equal digests; bounded in depth (no stack overflow). */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_AUDIT_DEPTH) return '"[too deep]"';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  const entries = Object.keys(value as object)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], depth + 1)}`);
  return `{${entries.join(',')}}`;
}

export function argsDigest(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args ?? {})).digest('hex');
}

export interface AuditFilter {
  tenant?: string;
  under?: string;
  denied?: boolean;
  decision?: AuditDecision;
  tool?: string;
  since?: string;
  until?: string;
  before?: number;
  limit?: number;
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
    } catch {
      // Never let one row sink the others: write them one by one, failing only those that cannot be written.
      rows.forEach((row, i) => {
        try {
          this.insert.run(toRow(row));
          waiters[i]!.resolve();
        } catch (error) {
          waiters[i]!.reject(error);
        }
      });
    }
  }

  /**
   * The one audit query (the CLI's `warren audit` and the HTTP API both run it): the newest `limit` rows matching the
   * filter, oldest first. `tenant`: that tenant's rows only; `under`: that tenant and the tenants below it by path (as
   * the egress log); `since`/`until`: ISO times; `before`: the id of the last row of the previous page (the cursor).
   * With a time range, "newest" is by time (then id), so the page is read off the time index and stops after its rows
   * rather than scanning every row of a range far from the newest ones; otherwise it is by id.
   */
  query(filter: AuditFilter = {}): AuditRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit ?? 100 };
    const add = (clause: string, name: string, value: unknown) => {
      where.push(clause);
      params[name] = value;
    };
    const byTime = filter.since !== undefined || filter.until !== undefined;
    if (filter.tenant) add('tenant = @tenant', 'tenant', filter.tenant);
    if (filter.under) add(`(tenant = @under OR substr(tenant, 1, length(@under) + 1) = @under || '/')`, 'under', filter.under);
    if (filter.denied) where.push("decision != 'allow'");
    if (filter.decision) add('decision = @decision', 'decision', filter.decision);
    if (filter.tool) add('tool = @tool', 'tool', filter.tool);
    if (filter.since) add('time >= @since', 'since', filter.since);
    if (filter.until) add('time < @until', 'until', filter.until);
    if (filter.before !== undefined) {
      add(byTime ? '(time, id) < ((SELECT time FROM audit WHERE id = @before), @before)' : 'id < @before', 'before', filter.before);
    }
    const order = byTime ? ['time DESC, id DESC', 'time, id'] : ['id DESC', 'id'];
    const sql = `SELECT * FROM (SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
                 ORDER BY ${order[0]} LIMIT @limit) ORDER BY ${order[1]}`;
    return this.db.prepare(sql).all(params) as AuditRow[];
  }
}
