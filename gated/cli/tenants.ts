// `warren tenants`: every tenant with its tier, status and socket, and every configuration error with file:line — as
// the running gated sees them when there is one (its control socket), else as a fresh read of the files.
import { parse, type CommonOptions, type Command } from '../../core/command.js';
import { silentLogger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { askControl, describeTenants, type TenantsReport } from '../control.js';
import { closedBecauseOf } from '../policy.js';
import { tenantSocketPlace } from '../socket-paths.js';

/**
 * Where the answer came from, said on every answer: the files can disagree with what gated enforces, and the gated
 * running on DATA may serve another tree than --tenants names.
 */
export function sourceLines(answer: { tenantsDir: string } | null, common: CommonOptions): string {
  if (!answer) return `no running gated on ${common.data}: read from the files\n`;
  const other = answer.tenantsDir === common.tenants ? '' : `note: that gated serves ${answer.tenantsDir}, not ${common.tenants}\n`;
  return `running gated on ${common.data}: its live state\n${other}`;
}

function fromFiles(tenantsDir: string): TenantsReport {
  const registry = new TenantRegistry(tenantsDir, silentLogger());
  registry.loadAll();
  return describeTenants(registry, (tenant) => closedBecauseOf(registry, tenant), new Map());
}

const command: Command = {
  summary: 'list tenants, their tiers and any configuration errors',
  usage: `Usage: warren tenants [--json]

Shows what the running gated on DATA enforces (asked on its control socket); without one, what the files say.
Status: ok; "last good" (its files are broken now; the last valid configuration still applies and the error is
ignored); "invalid" (never valid: no socket); "blocked" (an ancestor has no valid configuration: every call is
refused). Exit status 1 when any file has an error.`,
  async run(argv, common) {
    const { values } = parse(argv, { json: { type: 'boolean' } }, false);
    const live = await askControl(common.data, 'tenants');
    const report = live ?? fromFiles(common.tenants);
    if (values.json) {
      process.stdout.write(JSON.stringify({ source: live ? 'gated' : 'files', ...report }, null, 2) + '\n');
    } else {
      process.stdout.write(sourceLines(live, common));
      for (const r of report.tenants) {
        const place = tenantSocketPlace(common.data, r.tenant);
        const socket = r.socket ?? (place.ok ? '(no live socket)' : `(no socket: ${place.reason})`);
        process.stdout.write(`${r.tenant.padEnd(32)} tier ${r.tier}  ${r.status.padEnd(9)} ${socket}\n`);
        if (r.status === 'last good') for (const e of r.errors) process.stdout.write(`    ignoring: ${e}\n`);
        if (r.closedBecause) process.stdout.write(`    refused: ${r.closedBecause}\n`);
      }
      const { errors } = report;
      if (errors.length) process.stdout.write(`\n${errors.length} problem(s):\n${errors.map((e) => `  ${e}\n`).join('')}`);
    }
    return report.errors.length ? 1 : 0;
  },
};
export default command;
