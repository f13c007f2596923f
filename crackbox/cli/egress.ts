// `warren egress log`: read crackbox's egress log (DNS answers and proxy decisions).
import { hasTable, openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { queryEgressLog, type EgressRow } from '../egress-log.js';

const USAGE = `Usage: warren egress log [--tenant T] [--denied] [--limit N] [--json]

One line per DNS answer or proxy decision, newest first: time, tenant, kind (dns | connect | http), target,
ALLOW or DENY, the deciding rule, and the reason.
  --tenant T   only this tenant and the tenants below it
  --denied     only denials
  --limit N    at most N lines (default 50)
  --json       one JSON object per line`;

/** Names come from tenants' packets: never let one put control characters on the operator's terminal. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}

export function formatRow(r: EgressRow): string {
  const target = r.port === null ? r.name : `${r.name}:${r.port}`;
  return [
    new Date(r.time).toISOString(),
    r.tenant.padEnd(20),
    r.kind.padEnd(7),
    printable(target).padEnd(32),
    r.allowed ? 'ALLOW' : 'DENY ',
    printable(r.rule),
    '-',
    printable(r.reason),
  ].join(' ');
}

const command: Command = {
  summary: "read crackbox's egress log (DNS answers and proxy decisions)",
  usage: USAGE,
  async run(argv, common) {
    const { values, positionals } = parse(argv, {
      tenant: { type: 'string' },
      denied: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1 || positionals[0] !== 'log') throw new UsageError('expected: warren egress log');
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit takes a positive whole number');
    const tenant = values.tenant === undefined ? undefined : parseTenantPath(values.tenant);
    const db = openDataReadOnly(common.data);
    try {
      // No table: crackbox has never run on this data, so nothing was logged.
      const rows = hasTable(db, 'egress_log') ? queryEgressLog(db, { tenant, deniedOnly: values.denied, limit }) : [];
      for (const r of rows) process.stdout.write((values.json ? JSON.stringify(r) : formatRow(r)) + '\n');
      return 0;
    } finally {
      db.close();
    }
  },
};

export default command;
