// Prometheus metrics for `GET /metrics` (prom-client, a registry of our own rather than the global one). Most numbers
// come from the tables the components already write: at each scrape the rows added since the last one are counted
// (by id, so a scrape costs what happened since, not the table's size). What no table records yet has a named hook.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../../core/db.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly toolCalls = new Counter({
    name: 'warren_tool_calls_total', help: 'MCP tool calls checked by gated, by tenant, tool and decision',
    labelNames: ['tenant', 'tool', 'decision'], registers: [this.registry],
  });
  private readonly denials = new Counter({
    name: 'warren_tool_denials_total', help: 'tool calls refused (decision deny, unknown or invalid), by tenant and tool',
    labelNames: ['tenant', 'tool'], registers: [this.registry],
  });
  private readonly turns = new Histogram({
    name: 'warren_turn_duration_seconds', help: 'container turns from start to finish, by outcome',
    labelNames: ['status'], buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800], registers: [this.registry],
  });
  private readonly containers = new Counter({
    name: 'warren_container_runs_total', help: 'container runs that ended, by status (done, failed, requeued)',
    labelNames: ['status'], registers: [this.registry],
  });
  private readonly queue = new Gauge({
    name: 'warren_queue_depth', help: 'messages waiting for a turn', registers: [this.registry],
  });
  private readonly running = new Gauge({
    name: 'warren_turns_running', help: 'turns running now', registers: [this.registry],
  });
  private readonly egress = new Counter({
    name: 'warren_egress_decisions_total', help: "crackbox's decisions (DNS answers, proxy connects), by kind and outcome",
    labelNames: ['kind', 'allowed'], registers: [this.registry],
  });
  /** Hook: crackbox's proxy does not count bytes yet; call proxyBytes() once it does. */
  private readonly proxy = new Counter({
    name: 'warren_proxy_bytes_total', help: 'bytes through the egress proxy, by tenant and direction',
    labelNames: ['tenant', 'direction'], registers: [this.registry],
  });
  /** Hook: channel delivery (issue 10) calls deliveryFailed() for each failed delivery. */
  private readonly deliveries = new Counter({
    name: 'warren_delivery_failures_total', help: 'outbox deliveries that failed, by tenant and channel',
    labelNames: ['tenant', 'channel'], registers: [this.registry],
  });

  private auditSeen = 0;
  private egressSeen = 0;
  private runsSeen = '';

  constructor(
    private readonly db: Db,
    private readonly activeRuns: () => number,
    /** gated's audit log (DATA/audit.db); the tool-call counters come from it. */
    private readonly auditDb: Db = db,
  ) {}

  get contentType(): string {
    return this.registry.contentType;
  }

  proxyBytes(tenant: string, direction: 'up' | 'down', bytes: number): void {
    this.proxy.inc({ tenant, direction }, bytes);
  }

  deliveryFailed(tenant: string, channel: string): void {
    this.deliveries.inc({ tenant, channel });
  }

  async render(): Promise<string> {
    this.scan();
    return this.registry.metrics();
  }

  private hasTable(name: string): boolean {
    return this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  }

  /** Counts what was written since the last scrape. */
  private scan(): void {
    const audit = this.auditDb
      .prepare(`SELECT tenant, tool, decision, COUNT(*) AS n, MAX(id) AS last FROM audit WHERE id > ? GROUP BY tenant, tool, decision`)
      .all(this.auditSeen) as { tenant: string; tool: string; decision: string; n: number; last: number }[];
    for (const r of audit) {
      this.toolCalls.inc({ tenant: r.tenant, tool: r.tool, decision: r.decision }, r.n);
      if (r.decision !== 'allow') this.denials.inc({ tenant: r.tenant, tool: r.tool }, r.n);
      this.auditSeen = Math.max(this.auditSeen, r.last);
    }
    // finished_at is an ISO time: runs that ended after the last one counted (ties at the same millisecond are
    // counted once by remembering the id too).
    const ended = this.db
      .prepare(
        `SELECT id, status, started_at, finished_at FROM runs WHERE finished_at IS NOT NULL AND finished_at || id > ?
         ORDER BY finished_at, id`,
      )
      .all(this.runsSeen) as { id: string; status: string; started_at: string; finished_at: string }[];
    for (const r of ended) {
      this.containers.inc({ status: r.status });
      const seconds = (Date.parse(r.finished_at) - Date.parse(r.started_at)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) this.turns.observe({ status: r.status }, seconds);
      this.runsSeen = r.finished_at + r.id;
    }
    this.queue.set((this.db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE run IS NULL`).get() as { n: number }).n);
    this.running.set(this.activeRuns());
    if (this.hasTable('egress_log')) {
      const egress = this.db
        .prepare(`SELECT kind, allowed, COUNT(*) AS n, MAX(id) AS last FROM egress_log WHERE id > ? GROUP BY kind, allowed`)
        .all(this.egressSeen) as { kind: string; allowed: number; n: number; last: number }[];
      for (const r of egress) {
        this.egress.inc({ kind: r.kind, allowed: r.allowed ? 'true' : 'false' }, r.n);
        this.egressSeen = Math.max(this.egressSeen, r.last);
      }
    }
  }
}
