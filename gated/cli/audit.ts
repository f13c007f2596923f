// `warren audit`: read the audit log; `warren audit digest ARGS`: the digest a row would hold for those arguments.
import { existsSync } from 'node:fs';
import { parse, UsageError, type Command } from '../../core/command.js';
import { openDbReadOnly } from '../../core/db.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { warrenDbPath } from '../../core/warren-db.js';
import { argsDigest, queryAudit } from '../audit.js';
import { auditDbPath } from '../audit-db.js';
import { loadAuditKey } from '../audit-key.js';

const command: Command = {
  summary: 'read the audit log of tool calls',
  usage: `Usage: warren audit [--tenant T] [--denied] [--limit N] [--json]
       warren audit digest '<json arguments>'

One line per tool call: time, tenant, tool, decision, outcome, duration, deciding rule, argument shape, and for a
refused call the reason it was given.
  --tenant T   only this tenant and the tenants below it
"digest" prints the keyed digest (HMAC-SHA256 under DATA/audit.key) of the arguments given as JSON, to compare
with a row's args_digest: that is how to confirm a suspected value without the log holding it.`,
  async run(argv, common) {
    if (argv[0] === 'digest') return digest(argv.slice(1), common.data);
    const { values } = parse(argv, {
      tenant: { type: 'string' },
      denied: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    }, false);
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit takes a positive whole number');
    const under = values.tenant === undefined ? undefined : parseTenantPath(values.tenant);
    const file = auditDbPath(common.data);
    if (!existsSync(file)) {
      // A reader never creates what it reads: no audit log is an answer, not something to make.
      if (!existsSync(warrenDbPath(common.data))) throw new Error(`no warren data at ${common.data}`);
      process.stderr.write(`warren audit: no audit rows yet (${file} does not exist: gated makes it when it starts)\n`);
      return 0;
    }
    const db = openDbReadOnly(file);
    try {
      const rows = queryAudit(db, {
        under,
        denied: values.denied,
        limit,
      });
      for (const r of rows) {
        if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
        else
          process.stdout.write(
            `${r.time}  ${r.tenant.padEnd(24)} ${r.tool.padEnd(16)} ${r.decision.padEnd(7)} ${r.outcome.padEnd(6)} ` +
              `${String(r.duration_us).padStart(7)}us  ${r.rule ?? '-'}  ${r.args_shape}` +
              `${r.reason ? `  reason: ${r.reason}` : ''}\n`,
          );
      }
      return 0;
    } finally {
      db.close();
    }
  },
};

function digest(argv: string[], dataDir: string): number {
  const { positionals } = parse(argv, {});
  if (positionals.length !== 1) throw new UsageError(`warren audit digest takes one argument: the call's arguments as JSON`);
  let args: unknown;
  try {
    args = JSON.parse(positionals[0]!);
  } catch (error) {
    throw new UsageError(`the arguments are not valid JSON: ${(error as Error).message}`);
  }
  process.stdout.write(argsDigest(loadAuditKey(dataDir, { create: false }), args) + '\n');
  return 0;
}
export default command;
