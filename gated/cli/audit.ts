// `warren audit`: read the audit log.
import { openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { AuditLog } from '../audit.js';

const command: Command = {
  summary: 'read the audit log of tool calls',
  usage: `Usage: warren audit [--tenant T] [--denied] [--limit N] [--json]

One line per tool call: time, tenant, tool, decision, deciding rule, duration, outcome, argument shape.
  --tenant T   only this tenant and the tenants below it`,
  async run(argv, common) {
    const { values } = parse(argv, {
      tenant: { type: 'string' },
      denied: { type: 'boolean' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    }, false);
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit takes a positive whole number');
    const under = values.tenant === undefined ? undefined : parseTenantPath(values.tenant);
    const db = openDataReadOnly(common.data);
    try {
      const rows = new AuditLog(db).query({
        under,
        denied: values.denied,
        limit,
      });
      for (const r of rows) {
        if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
        else
          process.stdout.write(
            `${r.time}  ${r.tenant.padEnd(24)} ${r.tool.padEnd(16)} ${r.decision.padEnd(7)} ${r.outcome.padEnd(6)} ` +
              `${String(r.duration_us).padStart(7)}us  ${r.rule ?? '-'}  ${r.args_shape}\n`,
          );
      }
      return 0;
    } finally {
      db.close();
    }
  },
};
export default command;
