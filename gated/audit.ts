// The audit log: one row per tool call. It records what was decided, why a call was refused, and the shape of the
// arguments, never their values. A keyed digest (HMAC-SHA256 under DATA/audit.key) lets an operator confirm a
// suspected value (`warren audit digest`) without the log holding it, and without anyone who reads the log being able
// to confirm short values by guessing.
//
// Rows live in DATA/audit.db (audit-db.ts). Rows recorded in one event-loop turn are committed together: a lone row
// at once on gated's own connection when the lock is free, otherwise by a writer thread (audit-worker.ts) that
// group-commits everything waiting for it. `record` resolves once a row is committed, and callers await it before
// answering, so no result leaves gated before its row is in the WAL.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { MessagePort, Worker } from 'node:worker_threads';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../core/db.js';
import type { Logger } from '../core/log.js';
import { adoptLegacyAuditRows, auditDbPath, openAuditDb } from './audit-db.js';
import { AUDIT_COLUMNS, startWriterThread, type FromWriter, type ToWriter } from './audit-worker.js';

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
  /** For refused calls: the sentence the agent was given (argument values are taken out before it is stored). */
  reason?: string | null;
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
  reason: string | null;
}

/** Longest reason stored; refusals listing many allowed forms are cut here. */
export const MAX_REASON_CHARS = 1000;

/** Appends one row's values, in AUDIT_COLUMNS order (audit-worker.ts), to a batch. */
function appendRow(key: KeyObject, emptyDigest: string, e: AuditEntry, out: unknown[]): void {
  let digest: string;
  let shape: string;
  let reason: string | null = null;
  try {
    const canonical = canonicalJson(e.args ?? {});
    // Most calls take no arguments (whoami, read_observed): that digest is made once. Nothing else is remembered,
    // so no argument value outlives its call in gated's memory.
    digest = canonical === '{}' ? emptyDigest : createHmac('sha256', key).update(canonical).digest('hex');
    shape = JSON.stringify(shapeOf(e.args ?? {}));
    if (e.reason) reason = withoutArgumentValues(e.reason, e.args).slice(0, MAX_REASON_CHARS);
  } catch {
    // Whatever the arguments were, the call still gets its row.
    digest = 'unavailable';
    shape = '"unavailable"';
    reason = e.reason ? '(unavailable)' : null;
  }
  out.push(
    e.time ?? new Date().toISOString(), e.tenant, e.run, e.tool.slice(0, 200), e.decision, e.rule,
    Math.round(e.durationUs), e.outcome, digest, shape, reason,
  );
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

/** HMAC-SHA256, under the installation's audit key, of the canonical JSON of the arguments. */
export function argsDigest(key: Buffer | KeyObject, args: unknown): string {
  return createHmac('sha256', key).update(canonicalJson(args ?? {})).digest('hex');
}

/** Values shorter than this are only taken out where they appear quoted; elsewhere they would eat ordinary words. */
const MIN_BARE_VALUE_CHARS = 3;

/**
 * A refusal sentence fit for the log: every string value in the arguments (and any value quoted as "value") is
 * replaced by [value]. The sentences quote offending arguments ("x" is not one of your descendants); the log must
 * not hold them.
 */
export function withoutArgumentValues(text: string, args: unknown): string {
  const values = new Set<string>();
  collectStrings(args, values, 0);
  let out = text;
  for (const v of [...values].sort((a, b) => b.length - a.length)) {
    if (v.length === 0) continue;
    out = out.split(v.length >= MIN_BARE_VALUE_CHARS ? v : `"${v}"`).join(v.length >= MIN_BARE_VALUE_CHARS ? '[value]' : '"[value]"');
  }
  return out;
}

function collectStrings(value: unknown, into: Set<string>, depth: number): void {
  if (depth > MAX_AUDIT_DEPTH || into.size > 256) return;
  if (typeof value === 'string') into.add(value);
  else if (typeof value === 'number' || typeof value === 'boolean') into.add(String(value));
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, into, depth + 1);
  else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) collectStrings(v, into, depth + 1);
  }
}

export const AUDIT_DAYS_ENV = 'WARREN_AUDIT_DAYS';
export const DEFAULT_AUDIT_DAYS = 30;

/** Days of audit rows to keep, from $WARREN_AUDIT_DAYS; a value that is not a positive number is refused. */
export function auditRetentionDays(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[AUDIT_DAYS_ENV];
  if (raw === undefined || raw.trim() === '') return DEFAULT_AUDIT_DAYS;
  const days = Number(raw);
  if (!Number.isFinite(days) || days <= 0) {
    throw new Error(`$${AUDIT_DAYS_ENV} must be a positive number of days (got "${raw}")`);
  }
  return days;
}

export interface AuditOptions {
  /** The installation's audit key (loadAuditKey). */
  key: Buffer;
  log: Logger;
  /** Default: $WARREN_AUDIT_DAYS, else 30. */
  retentionDays?: number;
  /** How often old rows are pruned (default: every 10 minutes, and once at start). */
  pruneEveryMs?: number;
  /** Rows deleted per statement (default 500): short enough never to hold the database for long. */
  pruneBatchRows?: number;
  /** Called after each pruning pass (tests and metrics). */
  onPruned?: (pass: { rows: number; batches: number }) => void;
}

type Failures = Map<number, string> | undefined;

interface Batch {
  seq: number;
  values: unknown[];
  count: number;
  done: Promise<Failures>;
  settle(failures: Failures): void;
  fail(error: Error): void;
}

export class AuditLog {
  private writer: { worker: Worker; port: MessagePort } | null = null;
  private filling: Batch | null = null;
  /** Posted to the writer, waiting for its acknowledgement; acknowledged in order. */
  private readonly inFlight: Batch[] = [];
  private seq = 0;
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly file: string;
  private readonly retentionDays: number;
  /** Imported once: createHmac with a raw Buffer would import the key again for every row. */
  private readonly key: KeyObject;
  private readonly emptyDigest: string;
  /**
   * gated's own connection to DATA/audit.db: queries, and lone rows written without waiting for the write lock
   * (busy timeout 0: it writes at once or hands the row to the writer thread).
   */
  readonly db: Db;
  private readonly insert: Statement;

  constructor(
    dataDir: string,
    private readonly options: AuditOptions,
  ) {
    this.retentionDays = options.retentionDays ?? auditRetentionDays();
    this.key = createSecretKey(options.key);
    this.emptyDigest = argsDigest(this.key, {});
    this.db = openAuditDb(dataDir);
    try {
      const moved = adoptLegacyAuditRows(this.db, dataDir);
      if (moved > 0) options.log.info({ rows: moved }, 'audit rows moved from warren.db to audit.db');
      this.db.pragma('busy_timeout = 0');
      this.insert = this.db.prepare(`INSERT INTO audit (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`);
      this.file = auditDbPath(dataDir);
      this.startWriter(); // now, not at the first call: pruning runs whether or not calls come
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  /**
   * Resolves once the row is committed, together with every other row recorded in the same event-loop turn (and
   * with whatever else reached the writer while it was busy). Rejects, for this row alone, if it cannot be written.
   */
  record(e: AuditEntry): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the audit log is closed'));
    let batch = this.filling;
    if (!batch) {
      batch = this.filling = newBatch(++this.seq);
      setImmediate(() => this.post());
    }
    const index = batch.count++;
    appendRow(this.key, this.emptyDigest, e, batch.values);
    return batch.done.then((failures) => {
      const failure = failures?.get(index);
      if (failure !== undefined) throw new Error(`audit row not written: ${failure}`);
    });
  }

  /** Resolves when everything recorded so far is committed. */
  async flush(): Promise<void> {
    this.post();
    await Promise.allSettled(this.inFlight.map((b) => b.done));
  }

  /** Writes every pending row, then stops the writer thread. Later records are refused. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.post();
    this.closed = true;
    const writer = this.writer;
    if (!writer) {
      this.db.close();
      return;
    }
    const closed = new Promise<void>((resolve) => {
      const onMessage = (m: FromWriter) => m.type === 'closed' && resolve();
      writer.port.on('message', onMessage);
      writer.worker.once('exit', () => resolve());
    });
    hold(writer, true);
    writer.port.postMessage({ type: 'close' } satisfies ToWriter);
    await closed;
    await Promise.allSettled(this.inFlight.map((b) => b.done));
    await writer.worker.terminate();
    this.writer = null;
    this.db.close();
  }

  /**
   * Commits one row on gated's own connection, which never waits for the write lock. False if it was not written
   * (the lock is held, e.g. by the writer thread pruning, or the row fails): the writer thread then takes it, waits
   * for the lock, and reports a row that cannot be written.
   */
  private writeHere(values: unknown[]): boolean {
    try {
      this.insert.run(values);
      return true;
    } catch {
      return false;
    }
  }

  query(filter: AuditFilter = {}): AuditRow[] {
    return queryAudit(this.db, filter);
  }

  private post(): void {
    const batch = this.filling;
    if (!batch) return;
    this.filling = null;
    // A lone row with nothing waiting for the writer thread: commit it here, at once, if the database is free this
    // instant. A single call's round trip then pays one commit rather than a commit and two thread hops; under load,
    // rows come several to a turn and are group-committed by the writer, off the event loop.
    if (this.inFlight.length === 0 && batch.count === 1 && this.writeHere(batch.values)) {
      batch.settle(undefined);
      return;
    }
    const writer = this.writer ?? this.startWriter();
    this.inFlight.push(batch);
    // Keep the process alive while a row is on its way; an idle writer does not hold it open.
    hold(writer, true);
    writer.port.postMessage({ type: 'rows', seq: batch.seq, values: batch.values } satisfies ToWriter);
  }

  private startWriter(): { worker: Worker; port: MessagePort } {
    const writer = startWriterThread({
      file: this.file,
      retentionDays: this.retentionDays,
      pruneEveryMs: this.options.pruneEveryMs ?? 10 * 60_000,
      pruneBatchRows: this.options.pruneBatchRows ?? 500,
    });
    writer.port.on('message', (m: FromWriter) => this.onMessage(m));
    writer.worker.on('error', (error) => this.options.log.error({ err: error }, 'audit writer failed'));
    writer.worker.once('exit', (code) => {
      if (this.writer !== writer) return;
      // Rows it had not acknowledged may not be committed: their calls fail (closed), and the next row starts a
      // new writer.
      this.writer = null;
      const lost = this.inFlight.splice(0);
      if (lost.length > 0) this.options.log.error({ code, batches: lost.length }, 'audit writer exited with rows pending');
      for (const b of lost) b.fail(new Error('the audit writer stopped before committing this row'));
    });
    hold(writer, false);
    this.writer = writer;
    return writer;
  }

  private onMessage(m: FromWriter): void {
    if (m.type === 'pruned') {
      const pass = { rows: m.rows, batches: m.batches };
      if (pass.rows > 0) this.options.log.info(pass, 'old audit rows pruned');
      this.options.onPruned?.(pass);
      return;
    }
    if (m.type !== 'written') return;
    let failures: Map<number, Map<number, string>> | undefined;
    for (const [seq, index, message] of m.failed) {
      failures ??= new Map();
      const of = failures.get(seq) ?? new Map<number, string>();
      of.set(index, message);
      failures.set(seq, of);
      this.options.log.error({ error: message }, 'audit row could not be written');
    }
    while (this.inFlight.length > 0 && this.inFlight[0]!.seq <= m.upTo) {
      const b = this.inFlight.shift()!;
      b.settle(failures?.get(b.seq));
    }
    if (this.inFlight.length === 0 && !this.closed && this.writer) hold(this.writer, false);
  }
}

/** Whether the writer keeps the process alive: while rows are on their way, and not while it idles. */
function hold(writer: { worker: Worker; port: MessagePort }, on: boolean): void {
  if (on) {
    writer.worker.ref();
    writer.port.ref();
  } else {
    writer.worker.unref();
    writer.port.unref();
  }
}

function newBatch(seq: number): Batch {
  let settle!: (f: Failures) => void;
  let fail!: (error: Error) => void;
  const done = new Promise<Failures>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  return { seq, values: [], count: 0, done, settle, fail };
}

export interface AuditFilter {
  /** That tenant's rows only. */
  tenant?: string;
  /** That tenant and the tenants below it by path (as the egress log). */
  under?: string;
  denied?: boolean;
  decision?: AuditDecision;
  tool?: string;
  /** ISO times: rows at or after `since`, before `until`. */
  since?: string;
  until?: string;
  /** The cursor: the id of the last row of the previous page. */
  before?: number;
  limit?: number;
}

/**
 * The one audit query (the CLI's `warren audit` and the HTTP API both run it): the newest `limit` rows matching the
 * filter, oldest first. `tenant`: that tenant's rows only; `under`: that tenant and the tenants below it by path (as
 * the egress log); `since`/`until`: ISO times; `before`: the id of the last row of the previous page (the cursor).
 * With a time range, "newest" is by time (then id), so the page is read off the time index and stops after its rows
 * rather than scanning every row of a range far from the newest ones; otherwise it is by id.
 */
export function queryAudit(db: Db, filter: AuditFilter = {}): AuditRow[] {
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
  return db.prepare(sql).all(params) as AuditRow[];
}
