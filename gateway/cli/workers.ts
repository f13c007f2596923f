// `warren workers [tenant]`: every coordinator and worker (state, age, brief's first line, container), read-only.
// Coordinators live in the running gateway's memory, so they come from it (DATA/gateway.json and its status route);
// without one, from the runs table (turns of always_on tenants still marked running). Workers always come from
// warren.db's workers table, which the gateway's pool keeps true.
import { hasTable, openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import type { Db } from '../../core/db.js';
import { silentLogger } from '../../core/log.js';
import { parseTenantPath, tenantId, type TenantPath } from '../../core/tenant-path.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { GatedStore, type WorkerRow } from '../../gated/store.js';
import { withinScope } from '../http/principals.js';
import { OutboxView } from '../outbox-view.js';
import { ReadFacade } from '../read/facade.js';
import { firstLine, formatAge, statusReport, type StatusJson, type StatusWorkerRow } from '../status.js';
import { findGateway, type GatewayClient } from './client.js';

export interface CoordinatorLine {
  tenant: string;
  state: string;
  for_s: number;
  busy_with: string | null;
  container: string | null;
}

export interface WorkerLine {
  id: string;
  tenant: string;
  state: string;
  for_s: number;
  brief: string;
  container: string | null;
}

export interface WorkersListing {
  /** Where the coordinators were read: the running gateway's live state, or the runs table. */
  coordinators: { source: 'gateway' | 'runs'; items: CoordinatorLine[] };
  workers: WorkerLine[];
}

/** A worker as listed: its age counts from its start when it has one, else from when it was queued. PURE. */
export function workerLine(w: StatusWorkerRow & Pick<WorkerRow, 'endedAt'>, now: number): WorkerLine {
  const since = w.state === 'running' || w.state === 'queued' ? (w.startedAt ?? w.createdAt) : (w.endedAt ?? w.startedAt ?? w.createdAt);
  return {
    id: w.id,
    tenant: w.tenant,
    state: w.state,
    for_s: Math.max(0, Math.floor((now - since) / 1000)),
    brief: firstLine(w.brief),
    container: w.container,
  };
}

/** The listing as text, one line per coordinator and per worker, the source said first. PURE. */
export function listingText(l: WorkersListing, data: string): string {
  const out: string[] = [];
  out.push(
    l.coordinators.source === 'gateway'
      ? `coordinators (the running gateway on ${data}, live):`
      : `coordinators (no running gateway on ${data}: turns of always_on tenants still marked running in the runs table):`,
  );
  if (l.coordinators.items.length === 0) out.push('  none');
  for (const c of l.coordinators.items) {
    const turn = c.busy_with ? `  turn ${c.busy_with}` : '';
    out.push(`  ${c.tenant.padEnd(24)} ${c.state.padEnd(9)} ${formatAge(c.for_s * 1000).padStart(7)}  ${c.container ?? '-'}${turn}`);
  }
  out.push('workers (warren.db):');
  if (l.workers.length === 0) out.push('  none');
  for (const w of l.workers) {
    out.push(
      `  ${w.id.padEnd(16)} ${w.tenant.padEnd(24)} ${w.state.padEnd(9)} ${formatAge(w.for_s * 1000).padStart(7)}  ${(w.container ?? '-').padEnd(14)}  ${w.brief}`,
    );
  }
  return out.join('\n') + '\n';
}

/** The workers table through its one reader (GatedStore.listWorkers); none before the table exists. */
function workersOf(db: Db, tenant: TenantPath | null, all: boolean): WorkerRow[] {
  if (!hasTable(db, 'workers')) return [];
  return new GatedStore(db).listWorkers({ tenant: tenant ?? undefined, subtree: true, active: !all });
}

/** Live coordinators: the gateway's status of every tenant it serves in the subtree. */
async function liveCoordinators(gateway: GatewayClient, under: TenantPath | null): Promise<CoordinatorLine[]> {
  const tenants = await gateway.request('GET', '/v1/tenants');
  if (tenants.status !== 200) throw new Error(`the gateway answered ${tenants.status} for its tenants`);
  const paths = (tenants.body.tenants as { tenant: TenantPath }[]).map((t) => t.tenant).filter((t) => under === null || withinScope(under, t));
  const answers = await Promise.all(paths.map((t) => gateway.request('GET', `/v1/tenants/${tenantId(t)}/status`)));
  return answers
    .filter((a) => a.status === 200 && a.body.coordinator)
    .map((a) => {
      const s = a.body as StatusJson;
      return { tenant: s.tenant, state: s.coordinator!.state, for_s: s.coordinator!.for_s, busy_with: s.coordinator!.busy_with, container: s.coordinator!.container };
    });
}

/** Without a gateway: the turns of always_on tenants (as the files say) that the runs table still marks running. */
function coordinatorsFromRuns(db: Db, tenantsDir: string, under: TenantPath | null, now: number): CoordinatorLine[] {
  const registry = new TenantRegistry(tenantsDir, silentLogger());
  registry.loadAll();
  const unavailable = () => {
    throw new Error('not available without a running gated');
  };
  const read = new ReadFacade({ db, auditDb: db, outbox: new OutboxView(db), tenants: unavailable, explain: unavailable });
  const out: CoordinatorLine[] = [];
  for (const t of registry.list()) {
    if (under !== null && !withinScope(under, t.path)) continue;
    if (registry.config(t.path)?.persona.frontmatter.always_on !== true) continue;
    for (const turn of statusReport(read.status(t.path, null, now)).json.turns) {
      out.push({ tenant: t.path, state: 'running', for_s: turn.for_s, busy_with: turn.run, container: null });
    }
  }
  return out;
}

const command: Command = {
  summary: 'list coordinators and workers: state, age, brief, container',
  usage: `Usage: warren workers [tenant] [--all] [--json]

Coordinators (always_on tenants' long-lived containers) and workers (spawn_worker), of the whole tree or of the
tenant and the tenants below it. Coordinators come from the running gateway on DATA (live); without one, from the
runs table (turns still marked running), and the output says which. Workers come from DATA/warren.db: queued and
running ones, or every one with --all. Read-only: it creates nothing.`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { all: { type: 'boolean' }, json: { type: 'boolean' } });
    if (positionals.length > 1) throw new UsageError('give at most one tenant');
    const under = positionals[0] === undefined ? null : parseTenantPath(positionals[0]);
    const db = openDataReadOnly(common.data);
    try {
      if (!hasTable(db, 'runs')) throw new Error(`no gateway data at ${common.data} (warren up has not run on it)`);
      const now = Date.now();
      const gateway = await findGateway(common.data);
      const listing: WorkersListing = {
        coordinators: gateway
          ? { source: 'gateway', items: await liveCoordinators(gateway, under) }
          : { source: 'runs', items: coordinatorsFromRuns(db, common.tenants, under, now) },
        workers: workersOf(db, under, values.all === true).map((w) => workerLine(w, now)),
      };
      process.stdout.write(values.json ? JSON.stringify(listing, null, 2) + '\n' : listingText(listing, common.data));
      return 0;
    } finally {
      db.close();
    }
  },
};
export default command;
