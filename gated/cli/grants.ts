// `warren grants defaults` and `warren grants explain <tenant> <tool> [arg=value ...]`.
import { existsSync } from 'node:fs';
import { parse, UsageError, type Command } from '../../core/command.js';
import { openDb } from '../../core/db.js';
import { explainDecision } from '../../core/grants/explain.js';
import { TIER_DEFAULT_TEXT } from '../../core/grants/defaults.js';
import { NO_ROUTES } from '../../core/grants/evaluate.js';
import type { DecisionContext } from '../../core/grants/types.js';
import { formatConfigError } from '../../core/config-error.js';
import { parseTenantPath, tierOf, type TenantPath } from '../../core/tenant-path.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { silentLogger } from '../../core/log.js';
import { warrenDbPath } from '../../core/warren-db.js';
import { buildPolicy } from '../policy.js';

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

/** Routes come from the live database when there is one; without it no chat counts as routed. */
function routesContext(dataDir: string, tenant: TenantPath): { ctx: DecisionContext; close(): void } {
  const file = warrenDbPath(dataDir);
  if (!existsSync(file)) return { ctx: NO_ROUTES, close: () => undefined };
  const db = openDb(file);
  const stmt = db.prepare('SELECT 1 FROM routes WHERE chat = ? AND tenant = ?');
  return { ctx: { isRoutedChat: (chat) => stmt.get(chat, tenant) !== undefined }, close: () => db.close() };
}

function explain(words: string[], tenantsDir: string, dataDir: string): number {
  const [rawTenant, tool, ...rest] = words;
  if (!rawTenant || !tool) throw new UsageError('explain needs <tenant> <tool> [arg=value ...]');
  const tenant = parseTenantPath(rawTenant);
  const args = parseCallArgs(rest);
  const registry = new TenantRegistry(tenantsDir, silentLogger());
  registry.loadAll();
  const state = registry.get(tenant);
  for (const e of state?.errors ?? []) process.stdout.write(`warning: ${formatConfigError(e)}\n`);
  const policy = buildPolicy(registry, tenant);
  if (!policy) {
    process.stdout.write(`DENY  ${tenant} has no valid configuration${state ? '' : ' (no such tenant)'}; it gets no socket\n`);
    return 1;
  }
  if (policy.closedBecause) {
    process.stdout.write(`DENY  ${policy.closedBecause}\n`);
    return 1;
  }
  const routes = routesContext(dataDir, tenant);
  try {
    const x = explainDecision(policy.compiled, tool, args, routes.ctx);
    process.stdout.write(`${x.allowed ? 'ALLOW' : 'DENY '} ${tenant} (tier ${tierOf(tenant)}) ${tool}${rest.length ? ' ' + rest.join(' ') : ''}\n`);
    process.stdout.write(`  ${x.decision.reason}\n`);
    if (x.source) process.stdout.write(`  deciding rule: ${x.rule!.text}  [${x.source}]\n`);
    process.stdout.write(`  listed in tools/list: ${x.listed ? 'yes' : 'no'}\n`);
    if (x.applied.length) {
      process.stdout.write('  rules for this tool:\n');
      for (const a of x.applied) process.stdout.write(`    ${a.holds ? 'matches ' : 'no match'}  ${a.description}\n`);
    }
    return x.allowed ? 0 : 1;
  } finally {
    routes.close();
  }
}

const command: Command = {
  summary: 'show tier defaults or explain a grant decision',
  usage: `Usage: warren grants defaults
       warren grants explain <tenant> <tool> [arg=value ...]

explain prints allow/deny, the deciding rule and its source (tier default or file:line), and every rule that applies.
Exit status: 0 allow, 1 deny, 2 usage error.`,
  async run(argv, common) {
    const { positionals } = parse(argv, {});
    const [sub, ...rest] = positionals;
    if (sub === 'defaults' && rest.length === 0) return printDefaults();
    if (sub === 'explain') return explain(rest, common.tenants, common.data);
    throw new UsageError('expected "defaults" or "explain <tenant> <tool> [arg=value ...]"');
  },
};
export default command;
