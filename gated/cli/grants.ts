// `warren grants defaults` and `warren grants explain <tenant> <tool> [arg=value ...]`. explain asks the running gated
// (its control socket) so that it answers as a real call would be answered now; without one it runs the same decision
// on a fresh read of the files, and says so.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse, UsageError, type CommonOptions, type Command } from '../../core/command.js';
import { openDbReadOnly, openMemoryDb, type Db } from '../../core/db.js';
import { TIER_DEFAULT_TEXT } from '../../core/grants/defaults.js';
import { silentLogger } from '../../core/log.js';
import { parseTenantPath, tenantId, tierOf, type TenantPath } from '../../core/tenant-path.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { WARREN_MIGRATIONS, warrenDbPath } from '../../core/warren-db.js';
import { DEFAULTS } from '../broker.js';
import { askControl, explainCall, type CallExplanation } from '../control.js';
import { buildPolicy } from '../policy.js';
import { GatedStore } from '../store.js';
import { sourceLines } from './tenants.js';

const TIER_NAMES = ['root (tier 0)', 'worlds (tier 1)', 'teams (tier 2)'];

function printDefaults(): number {
  for (const tier of [0, 1, 2] as const) {
    process.stdout.write(`${TIER_NAMES[tier]}:\n`);
    for (const rule of TIER_DEFAULT_TEXT[tier]) process.stdout.write(`  ${rule}\n`);
  }
  process.stdout.write('\nA tenant\'s rules = its tier defaults + its own grants file + the deny rules of its ancestors.\n');
  return 0;
}

/** `arg=value` words; a value that looks like a number is passed as one (as an agent's JSON would). */
function parseCallArgs(words: string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const w of words) {
    const i = w.indexOf('=');
    if (i <= 0) throw new UsageError(`"${w}" is not arg=value`);
    const value = w.slice(i + 1);
    args[w.slice(0, i)] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return args;
}

/** The decision on a fresh read of the files; routes and observations come from DATA/warren.db (read-only) if any. */
function explainFromFiles(tenantsDir: string, dataDir: string, tenant: TenantPath, tool: string, args: Record<string, unknown>): CallExplanation {
  const registry = new TenantRegistry(tenantsDir, silentLogger());
  registry.loadAll();
  const file = warrenDbPath(dataDir);
  const db: Db = existsSync(file) ? openDbReadOnly(file) : openMemoryDb(WARREN_MIGRATIONS);
  try {
    const context = {
      tenant,
      tier: tierOf(tenant),
      run: null,
      tenantsDir,
      filesDir: join(dataDir, 'files', tenantId(tenant)),
      registry,
      store: new GatedStore(db),
      db,
      log: silentLogger(),
      maxDelegationDepth: DEFAULTS.maxDelegationDepth,
      refreshTenant: () => undefined,
    };
    return explainCall({ policy: buildPolicy(registry, tenant), context }, registry, tool, args);
  } finally {
    db.close();
  }
}

function print(x: CallExplanation, argWords: string[]): number {
  for (const e of x.errors) process.stdout.write(`warning: ${e}\n`);
  process.stdout.write(`${x.allowed ? 'ALLOW' : 'DENY '} ${x.tenant} (tier ${x.tier}) ${x.tool}${argWords.length ? ' ' + argWords.join(' ') : ''}\n`);
  process.stdout.write(`  ${x.message}${x.known ? '' : ' (no such tenant)'}\n`);
  if (x.refusedAt) process.stdout.write(`  refused at: ${x.refusedAt}\n`);
  if (x.rule) process.stdout.write(`  deciding rule: ${x.rule}\n`);
  if (x.rules) {
    process.stdout.write(`  listed in tools/list: ${x.rules.listed ? 'yes' : 'no'}\n`);
    if (x.rules.applied.length) {
      process.stdout.write('  rules for this tool:\n');
      for (const a of x.rules.applied) process.stdout.write(`    ${a.holds ? 'matches ' : 'no match'}  ${a.description}\n`);
    }
  }
  return x.allowed ? 0 : 1;
}

async function explain(words: string[], common: CommonOptions): Promise<number> {
  const [rawTenant, tool, ...rest] = words;
  if (!rawTenant || !tool) throw new UsageError('explain needs <tenant> <tool> [arg=value ...]');
  const tenant = parseTenantPath(rawTenant);
  const args = parseCallArgs(rest);
  const live = await askControl(common.data, { tenant, tool, args });
  process.stdout.write(sourceLines(live, common));
  return print(live ?? explainFromFiles(common.tenants, common.data, tenant, tool, args), rest);
}

const command: Command = {
  summary: 'show tier defaults or explain a grant decision',
  usage: `Usage: warren grants defaults
       warren grants explain <tenant> <tool> [arg=value ...]

explain runs the decision a real call gets — unknown tool, argument validation, the grant rules, the tool's own
defaults, the structural guard — everything but the effect (no handler runs, no audit row), and prints allow/deny,
the stage that refused, the deciding rule and its source, and every rule that applies. It asks the running gated on
DATA; without one it reads the files, and says so.
Exit status: 0 allow, 1 deny, 2 usage error.`,
  async run(argv, common) {
    const { positionals } = parse(argv, {});
    const [sub, ...rest] = positionals;
    if (sub === 'defaults' && rest.length === 0) return printDefaults();
    if (sub === 'explain') return explain(rest, common);
    throw new UsageError('expected "defaults" or "explain <tenant> <tool> [arg=value ...]"');
  },
};
export default command;
