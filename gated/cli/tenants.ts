// `warren tenants`: every tenant with its tier, status and socket, and every configuration error with file:line.
import { existsSync } from 'node:fs';
import { parse, type Command } from '../../core/command.js';
import { formatConfigError } from '../../core/config-error.js';
import { silentLogger } from '../../core/log.js';
import { tierOf } from '../../core/tenant-path.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { tenantSocketPath } from '../broker.js';

const command: Command = {
  summary: 'list tenants, their tiers and any configuration errors',
  usage: `Usage: warren tenants [--json]

Status: ok; "last good" (its files are broken now; the last valid configuration still applies); "invalid" (never
valid: no socket). Exit status 1 when any file has an error.`,
  async run(argv, common) {
    const { values } = parse(argv, { json: { type: 'boolean' } }, false);
    const registry = new TenantRegistry(common.tenants, silentLogger());
    registry.loadAll();
    const rows = registry.list().map((s) => ({
      tenant: s.path,
      tier: tierOf(s.path),
      status: s.config === null ? 'invalid' : s.errors.length ? 'last good' : 'ok',
      socket: tenantSocketPath(common.data, s.path),
      live: existsSync(tenantSocketPath(common.data, s.path)),
      errors: s.errors.map(formatConfigError),
    }));
    const errors = registry.errors().map(formatConfigError);
    if (values.json) {
      process.stdout.write(JSON.stringify({ tenants: rows, errors }, null, 2) + '\n');
    } else {
      for (const r of rows) {
        process.stdout.write(`${r.tenant.padEnd(32)} tier ${r.tier}  ${r.status.padEnd(9)} ${r.live ? r.socket : '(no live socket)'}\n`);
      }
      if (errors.length) process.stdout.write(`\n${errors.length} problem(s):\n${errors.map((e) => `  ${e}\n`).join('')}`);
    }
    return errors.length ? 1 : 0;
  },
};
export default command;
