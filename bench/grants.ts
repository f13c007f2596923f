// Grant decision time at 10/100/1000 rules against a baseline in the same run: a naive linear scan over the same
// rules (precompiled regexes, every rule tested, deny wins). `node dist/bench/grants.js` prints a table; bench/gated.ts
// includes it through runGrantsBench(). Target: p99 <= 10 us at 1000 rules.
import { fileURLToPath } from 'node:url';
import { HOME, canonicalArg } from '../core/grants/canonical.js';
import { tierDefaults } from '../core/grants/defaults.js';
import { compileRules, decide } from '../core/grants/evaluate.js';
import { parseGrants } from '../core/grants/parse.js';
import type { DecisionContext, Rule } from '../core/grants/types.js';

export interface GrantsBenchRow {
  rules: number;
  p50Us: number;
  p99Us: number;
  naiveP50Us: number;
  naiveP99Us: number;
  /** Decisions where the engine and the naive scan disagreed (must be 0). */
  disagreements: number;
}

export interface GrantsBenchResult {
  rows: GrantsBenchRow[];
  /** Markdown table, ready to print. */
  table: string;
}

const SIZES = [10, 100, 1000];
const CALLS = Number(process.env.BENCH_DECISIONS ?? 20000);
const CTX: DecisionContext = { isRoutedChat: (c) => c === 'tg:1' };

/** Deterministic PRNG (mulberry32) so runs are comparable. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A realistic grants file: mostly argument-narrowed allows, some denies, some wildcard tools and value globs. */
function grantsText(n: number, rnd: () => number): string {
  const lines: string[] = [];
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  for (let i = 0; i < n; i++) {
    const r = rnd();
    const deny = rnd() < 0.2 ? '!' : '';
    if (r < 0.3) lines.push(`${deny}send_message(chat=tg:${i})`);
    else if (r < 0.4) lines.push(`${deny}send_message(chat=slack:c${i}*)`);
    else if (r < 0.5) lines.push(`${deny}send_file(chat=$routed, path=reports/${i}/**)`);
    else if (r < 0.6) lines.push(`${deny}delegate_group(group=acme/team${i})`);
    else if (r < 0.7) lines.push(`${deny}fork_topic(child="t ${i}", !parent)`);
    else if (r < 0.8) lines.push(`${deny}${pick(['*', 'send_*', 'set_*', '*_message'])}(chat=tg:9${i})`);
    else if (r < 0.9) lines.push(`${deny}${pick(['reply(text', 'like(reaction', 'observe_group(source', 'read_observed(source'])}=local:${i})`);
    else lines.push(`${deny}${pick(['read_observed', 'list_routes', 'send_*', 'observe_*'])}`);
  }
  return lines.join('\n');
}

function calls(n: number, rnd: () => number): { tool: string; args: Record<string, unknown> }[] {
  const out: { tool: string; args: Record<string, unknown> }[] = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rnd() * 1000);
    const r = rnd();
    if (r < 0.35) out.push({ tool: 'send_message', args: { chat: `tg:${k}`, text: 'hello there' } });
    else if (r < 0.45) out.push({ tool: 'send_message', args: { chat: `SLACK:C${k}x`, text: 'hello' } });
    else if (r < 0.6) out.push({ tool: 'send_file', args: { chat: 'tg:1', path: `${HOME}/reports/${k}/q1.pdf` } });
    else if (r < 0.7) out.push({ tool: 'delegate_group', args: { group: `acme/team${k}`, text: 'do it' } });
    else if (r < 0.8) out.push({ tool: 'reply', args: { text: 'ok', chat: `local:${k}` } });
    else if (r < 0.9) out.push({ tool: 'whoami', args: {} });
    else out.push({ tool: 'create_group', args: { child: `acme/x${k}` } });
  }
  return out;
}

// ---- the baseline: what a straightforward implementation would do

interface NaiveRule {
  deny: boolean;
  tool: RegExp;
  preds: { name: string; kind: string; re: RegExp | null }[];
}

function toRegExp(glob: string): RegExp {
  const source = glob
    .split(/(\*+)/)
    .map((part, i) => (i % 2 === 1 ? (part.length >= 2 ? '[\\s\\S]*' : '[^/]*') : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

function naiveCompile(rules: readonly Rule[]): NaiveRule[] {
  return rules.map((r) => ({
    deny: r.effect === 'deny',
    tool: toRegExp(r.tool),
    preds: r.args.map((a) => ({ name: a.name, kind: a.kind, re: a.kind === 'match' ? toRegExp(a.glob) : null })),
  }));
}

function naiveDecide(rules: NaiveRule[], tool: string, args: Record<string, unknown>): boolean {
  let allowed = false;
  for (const r of rules) {
    if (!r.tool.test(tool)) continue;
    const holds = r.preds.every((p) => {
      const raw = args[p.name];
      if (p.kind === 'absent') return raw === undefined;
      if (typeof raw !== 'string' && typeof raw !== 'number') return r.deny && raw !== undefined;
      const v = canonicalArg(p.name, String(raw));
      if (v === null) return false;
      return p.kind === 'routed' ? CTX.isRoutedChat(v) : p.re!.test(v);
    });
    if (!holds) continue;
    if (r.deny) return false;
    allowed = true;
  }
  return allowed;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function time(fn: (i: number) => unknown, n: number): { p50: number; p99: number } {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(i); // warm-up
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn(i);
    times[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  times.sort();
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

export async function runGrantsBench(): Promise<GrantsBenchResult> {
  const rows: GrantsBenchRow[] = [];
  for (const size of SIZES) {
    const rnd = prng(size);
    const parsed = parseGrants(grantsText(size, rnd), '/bench/tenants/acme/grants', 'acme');
    if (parsed.errors.length > 0) throw new Error(`benchmark grants do not parse: ${parsed.errors[0]!.message}`);
    const rules = [...tierDefaults(1), ...parsed.rules];
    const compiled = compileRules(rules);
    const naive = naiveCompile(rules);
    const workload = calls(CALLS, rnd);
    const at = (i: number) => workload[i % workload.length]!;

    let disagreements = 0;
    for (const c of workload) {
      if (decide(compiled, c.tool, c.args, CTX).allowed !== naiveDecide(naive, c.tool, c.args)) disagreements++;
    }
    const engine = time((i) => decide(compiled, at(i).tool, at(i).args, CTX), CALLS);
    const baseline = time((i) => naiveDecide(naive, at(i).tool, at(i).args), CALLS);
    rows.push({
      rules: rules.length,
      p50Us: engine.p50,
      p99Us: engine.p99,
      naiveP50Us: baseline.p50,
      naiveP99Us: baseline.p99,
      disagreements,
    });
  }
  const f = (n: number) => n.toFixed(2);
  const table = [
    '## grant decisions (compiled engine vs naive linear scan, same rules and calls)',
    '',
    '| rules | engine p50 | engine p99 | naive p50 | naive p99 | speed-up p50 | speed-up p99 | disagreements |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.rules} | ${f(r.p50Us)} us | ${f(r.p99Us)} us | ${f(r.naiveP50Us)} us | ${f(r.naiveP99Us)} us | ` +
        `${(r.naiveP50Us / r.p50Us).toFixed(1)}x | ${(r.naiveP99Us / r.p99Us).toFixed(1)}x | ${r.disagreements} |`,
    ),
    '',
    `(${CALLS} decisions per size; rule counts include the 20 tier-1 defaults; target: engine p99 <= 10 us at 1000 rules)`,
  ].join('\n');
  return { rows, table };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const result = await runGrantsBench();
  process.stdout.write(result.table + '\n');
}
