// The one read side of warren for the HTTP API, the CLI and the dashboard: each question is answered by one query
// here (or by the owning component's own query, which this calls), never written again by a caller. `under` is the
// subtree an answer is cut to (a scoped token's reach); null means everything.
import type { Db } from '../../core/db.js';
import { queryEgressLog, type EgressLogRow } from '../../core/egress-log-query.js';
import type { TenantPath } from '../../core/tenant-path.js';
import { queryAudit, type AuditFilter, type AuditRow } from '../../gated/audit.js';
import type { Gated } from '../../gated/broker.js';
import type { CallExplanation, TenantsReport } from '../../gated/control.js';
import type { MessageRow } from '../../gated/store.js';
import { withinScope } from '../http/principals.js';
import type { OutboxView } from '../outbox-view.js';
import { liveLine, type CoordinatorView, type StatusSnapshot, type StatusWorkerRow } from '../status.js';

export interface ReadSources {
  db: Db;
  /** gated's audit log (DATA/audit.db). */
  auditDb: Db;
  outbox: OutboxView;
  /** The running gated's view of the tree (what `warren tenants` shows). */
  tenants(): TenantsReport;
  /** The running gated's decision for a call (what `warren grants explain` shows). */
  explain(tenant: TenantPath, tool: string, args: Record<string, unknown>): CallExplanation;
  /** The tenant's queued and running workers (GatedStore.listWorkers); absent: none exist here. */
  activeWorkers?(tenant: TenantPath): StatusWorkerRow[];
}

export interface RunRow {
  id: string;
  tenant: string;
  topic: string;
  status: string;
  attempt: number;
  depth: number;
  chat: string | null;
  container: string | null;
  started_at: string;
  finished_at: string | null;
  result: string | null;
  error: string | null;
}

export interface Page<T> {
  items: T[];
  /** Pass as `before` for the next (older) page; null when this is the last one. */
  next_before: number | string | null;
}

const under = (column: string) => `(@under IS NULL OR ${column} = @under OR substr(${column}, 1, length(@under) + 1) = @under || '/')`;

export class ReadFacade {
  private readonly q;

  /** The facade over a running gated: its audit log, and its live view of the tree and of decisions. */
  static forGated(db: Db, gated: Gated, outbox: OutboxView): ReadFacade {
    return new ReadFacade({
      db,
      auditDb: gated.audit.db,
      outbox,
      tenants: () => gated.describeTenants(),
      explain: (tenant, tool, args) => gated.explainCall(tenant, tool, args),
      activeWorkers: (tenant) => gated.store.listWorkers({ tenant, active: true }),
    });
  }

  constructor(private readonly sources: ReadSources) {
    const db = sources.db;
    this.q = {
      runs: db.prepare(
        `SELECT id, tenant, topic, status, attempt, depth, chat, container, started_at, finished_at, result, error FROM runs
         WHERE tenant = @tenant AND (@before IS NULL OR started_at < @before) ORDER BY started_at DESC, id DESC LIMIT @limit`,
      ),
      run: db.prepare(
        `SELECT id, tenant, topic, status, attempt, depth, chat, container, started_at, finished_at, result, error FROM runs WHERE id = ?`,
      ),
      runMessages: db.prepare(`SELECT * FROM messages WHERE run = ? ORDER BY id`),
      runOutbox: db.prepare(`SELECT * FROM outbox WHERE run = ? ORDER BY id`),
      topics: db.prepare(`SELECT tenant, topic, parent, created_at FROM topics WHERE tenant = ? ORDER BY created_at, topic`),
      inbox: db.prepare(
        `SELECT * FROM messages WHERE tenant = @tenant AND (@topic IS NULL OR topic = @topic) AND (@before IS NULL OR id < @before)
         ORDER BY id DESC LIMIT @limit`,
      ),
      hasEgressLog: db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'egress_log'`),
      queueDepth: db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE run IS NULL AND ${under('tenant')}`),
      // Leases are held exactly while a turn runs, and the table is small: no scan of every run the tenant ever had.
      runningTurns: db.prepare(
        `SELECT r.id AS run, r.topic, r.started_at FROM leases l JOIN runs r ON r.id = l.run
         WHERE l.tenant = ? AND r.status = 'running' ORDER BY r.started_at, r.id`,
      ),
      lastLine: db.prepare(`SELECT kind, text, data FROM run_output WHERE run = ? AND kind IN ('log', 'tool') ORDER BY seq DESC LIMIT 1`),
      waiting: db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE run IS NULL AND engaged = 1 AND tenant = ?`),
      outboxState: db.prepare(
        `SELECT o.id, o.tenant, o.topic, o.kind, o.chat, o.run, o.created_at, o.delivered_at FROM outbox o
         WHERE o.tenant = @tenant AND (@before IS NULL OR o.id < @before) ORDER BY o.id DESC LIMIT @limit`,
      ),
    };
  }

  tenants(subtree: TenantPath | null): TenantsReport {
    const report = this.sources.tenants();
    if (subtree === null) return report;
    const tenants = report.tenants.filter((t) => withinScope(subtree, t.tenant));
    const errors = tenants.flatMap((t) => t.errors);
    return { tenantsDir: report.tenantsDir, tenants, errors };
  }

  explain(tenant: TenantPath, tool: string, args: Record<string, unknown>): CallExplanation {
    return this.sources.explain(tenant, tool, args);
  }

  /** Newest first; `filter.under` is the subtree asked for, already cut to the caller's reach. */
  auditPage(filter: AuditFilter & { limit: number }): Page<AuditRow> {
    const rows = queryAudit(this.sources.auditDb, filter).reverse();
    return { items: rows, next_before: rows.length === filter.limit ? rows[rows.length - 1]!.id : null };
  }

  runs(tenant: TenantPath, opts: { before?: string; limit: number }): Page<RunRow> {
    const items = this.q.runs.all({ tenant, before: opts.before ?? null, limit: opts.limit }) as RunRow[];
    return { items, next_before: items.length === opts.limit ? items[items.length - 1]!.started_at : null };
  }

  /** One turn: the run, the messages it answered and what it said (its outbox rows). undefined: no such run there. */
  turn(tenant: TenantPath, id: string): { run: RunRow; messages: MessageRow[]; said: unknown[] } | undefined {
    const run = this.q.run.get(id) as RunRow | undefined;
    if (!run || run.tenant !== tenant) return undefined;
    return { run, messages: this.q.runMessages.all(id) as MessageRow[], said: this.q.runOutbox.all(id) };
  }

  topics(tenant: TenantPath): { tenant: string; topic: string; parent: string | null; created_at: string }[] {
    return this.q.topics.all(tenant) as { tenant: string; topic: string; parent: string | null; created_at: string }[];
  }

  /** What people and tenants sent the tenant (its inbox), newest first. */
  inbox(tenant: TenantPath, opts: { topic?: string; before?: number; limit: number }): Page<MessageRow> {
    const items = this.q.inbox.all({ tenant, topic: opts.topic ?? null, before: opts.before ?? null, limit: opts.limit }) as MessageRow[];
    return { items, next_before: items.length === opts.limit ? items[items.length - 1]!.id : null };
  }

  /** The outbox as a client polls it (finished runs only), as `warren messages` reads it. */
  replies(tenant: TenantPath, opts: { after?: number; topic?: string; limit?: number }) {
    return this.sources.outbox.page(tenant, opts);
  }

  /** Every outbox row of the tenant with its delivery state (`delivered_at` null: not delivered yet). */
  deliveries(tenant: TenantPath, opts: { before?: number; limit: number }) {
    const items = this.q.outboxState.all({ tenant, before: opts.before ?? null, limit: opts.limit }) as { id: number; delivered_at: string | null }[];
    return { items, next_before: items.length === opts.limit ? items[items.length - 1]!.id : null };
  }

  /** crackbox's decisions, newest first (the query `warren egress log` runs); empty when egress never ran here. */
  egress(opts: { under: TenantPath | null; deniedOnly?: boolean; limit: number }): { items: EgressLogRow[] } {
    if (!this.q.hasEgressLog.get()) return { items: [] };
    return { items: queryEgressLog(this.sources.db, { tenant: opts.under ?? undefined, deniedOnly: opts.deniedOnly, limit: opts.limit }) };
  }

  /**
   * What /status reports about a tenant's work (gateway/status.ts words it): its running turns and workers with their
   * latest live-output line (a log line or a tool call), and the messages waiting. `coordinator` is the turn loop's
   * live view, if one runs.
   */
  status(tenant: TenantPath, coordinator: CoordinatorView | null, now = Date.now()): StatusSnapshot {
    const lastLine = (run: string) => {
      const chunk = this.q.lastLine.get(run) as { kind: string; text: string | null; data: string | null } | undefined;
      return chunk ? liveLine(chunk) : null;
    };
    const turns = (this.q.runningTurns.all(tenant) as { run: string; topic: string; started_at: string }[]).map((t) => ({
      run: t.run,
      topic: t.topic,
      startedAt: Date.parse(t.started_at),
      lastLine: lastLine(t.run),
    }));
    // A worker's live output is recorded under its handle (w-...), as a turn's under its run id.
    const workers = (this.sources.activeWorkers?.(tenant) ?? []).map((w) => ({ ...w, lastLine: lastLine(w.id) }));
    const waiting = (this.q.waiting.get(tenant) as { n: number }).n;
    return { tenant, now, coordinator, turns, workers, waiting };
  }

  queueDepth(subtree: TenantPath | null): number {
    return (this.q.queueDepth.get({ under: subtree }) as { n: number }).n;
  }
}
