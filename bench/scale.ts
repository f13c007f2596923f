// `npm run bench:scale`: `warren gated` at 1,000, 5,000 and 10,000 tenants (one root plus worlds of 9 teams, one of
// them with 10), each in a real child process on real files:
//  - time to "gated ready", RSS right after it, and the scaling exponent of both between sizes (1.0 is linear);
//  - the baseline: the bare file system work any start must do (read every file of the tree, make a folder and bind
//    a socket per tenant), timed in this process, with its own exponent;
//  - mkdir -> socket: a new world's socket appears;
//  - grants edit -> enforced: a deny in the world with 10 descendants refuses the call on every one of them, as the
//    running gated decides it (asked over its control socket, the decision a real call runs);
//  - `warren tenants` and `warren grants explain` against the running gated and from the files alone;
//  - the time a stop takes.
// BENCH_SIZES=1000,5000 picks other sizes; BENCH_REPEAT sets how many edits are timed per size.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRANTS_FILE, PERSONA_FILE } from '../core/tree/layout.js';
import { tenantSocketPath } from '../gated/broker.js';
import { askControl } from '../gated/control.js';

const WARREN = fileURLToPath(new URL('../cli/warren.js', import.meta.url));
const SIZES = (process.env.BENCH_SIZES ?? '1000,5000,10000').split(',').map(Number);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const EDITED = 'edited';
const TARGETS = { readyMs: 5000, rssMB: 300, mkdirMs: 100, editMs: 100, exponent: 1.1, commandMs: 1000 };

const persona = (name: string) => `---\nname: ${name}\ndescription: a benchmark tenant\nharness: script\n---\nYou help.\n`;

/** root, the edited world with 10 teams, and worlds of 9 teams up to about `tenants` tenants. Returns the count. */
function makeTree(dir: string, tenants: number): number {
  const write = (rel: string, text: string) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  write(`root/${PERSONA_FILE}`, persona('root'));
  let count = 1;
  const world = (name: string, teams: number) => {
    write(`${name}/${PERSONA_FILE}`, persona(name));
    write(`${name}/${GRANTS_FILE}`, '!issue_token\n');
    for (let t = 0; t < teams; t++) write(`${name}/t${t}/${PERSONA_FILE}`, persona(`${name} team ${t}`));
    count += 1 + teams;
  };
  world(EDITED, 10);
  for (let w = 1; count < tenants; w++) world(`w${w}`, 9);
  return count;
}

/** What any start costs before warren adds anything: every file read, a folder and a bound socket per tenant. */
async function bareFilesystemMs(tenantsDir: string, scratch: string): Promise<number> {
  const t0 = performance.now();
  const folders: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        folders.push(rel ? `${rel}.${e.name}` : e.name);
        walk(join(dir, e.name), rel ? `${rel}.${e.name}` : e.name);
      } else readFileSync(join(dir, e.name), 'utf8');
    }
  };
  walk(tenantsDir, '');
  const servers: Server[] = [];
  for (let i = 0; i < folders.length; i += 64) {
    await Promise.all(
      folders.slice(i, i + 64).map(async (id) => {
        mkdirSync(join(scratch, id), { recursive: true });
        const server = createServer();
        servers.push(server);
        await new Promise<void>((resolve) => server.listen(join(scratch, id, 's'), resolve));
      }),
    );
  }
  const ms = performance.now() - t0;
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ms;
}

function rssMB(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return performance.now() - t0;
}

function startGated(tenantsDir: string, dataDir: string): Promise<{ child: ChildProcess; readyMs: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [WARREN, 'gated', '--tenants', tenantsDir, '--data', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let tail = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString();
      tail = text.slice(-4096); // a line split between two chunks is still found; the socket list follows the line
      if (text.includes('"gated ready"')) {
        child.stderr!.removeAllListeners('data');
        child.stderr!.resume(); // keep draining: a full pipe would stall gated's logging
        resolve({ child, readyMs: performance.now() - t0 });
      }
    });
    child.once('exit', (code) => reject(new Error(`gated exited (${code}) before it was ready: ${tail}`)));
  });
}

/** Wall time of one CLI command (its own node start included), and whether it succeeded. */
function commandMs(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [WARREN, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`warren ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface SizeResult {
  tenants: number;
  readyMs: number;
  rssMB: number;
  baselineMs: number;
  mkdirMs: number[];
  editMs: number[];
  tenantsCmdMs: number;
  explainCmdMs: number;
  tenantsFilesMs: number;
  explainFilesMs: number;
  stopMs: number;
}

const progress = (what: string) => process.env.BENCH_DEBUG && process.stderr.write(`  ${what}\n`);

async function runSize(size: number): Promise<SizeResult> {
  const root = mkdtempSync(join(tmpdir(), 'warren-scale-'));
  const tenantsDir = join(root, 'tenants');
  const dataDir = join(root, 'data');
  try {
    const tenants = makeTree(tenantsDir, size);
    progress(`tree of ${tenants}`);
    const baselineMs = await bareFilesystemMs(tenantsDir, join(root, 'bare'));
    rmSync(join(root, 'bare'), { recursive: true, force: true });

    const { child, readyMs } = await startGated(tenantsDir, dataDir);
    const rss = rssMB(child.pid!);
    progress(`ready in ${readyMs}`);

    const mkdirMs: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const socket = tenantSocketPath(dataDir, `new${i}`);
      const t0 = performance.now();
      mkdirSync(join(tenantsDir, `new${i}`));
      await until(() => existsSync(socket), `the socket of new${i}`);
      mkdirMs.push(performance.now() - t0);
    }

    progress('mkdir done');
    const descendants = Array.from({ length: 10 }, (_, t) => `${EDITED}/t${t}`);
    const whoamiAllowed = async (tenant: string) => (await askControl(dataDir, { tenant, tool: 'whoami', args: {} }))!.allowed;
    const editMs: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      writeFileSync(join(tenantsDir, EDITED, GRANTS_FILE), '!issue_token\n!whoami\n');
      for (const t of descendants) await until(async () => !(await whoamiAllowed(t)), `the deny enforced on ${t}`);
      editMs.push(performance.now() - t0);
      writeFileSync(join(tenantsDir, EDITED, GRANTS_FILE), '!issue_token\n');
      for (const t of descendants) await until(() => whoamiAllowed(t), `the deny lifted on ${t}`);
    }

    progress('edits done');
    const common = ['--tenants', tenantsDir, '--data', dataDir];
    const explain = [...'grants explain'.split(' '), `${EDITED}/t3`, 'whoami', ...common]; // the command, not the file
    const tenantsCmdMs = commandMs(['tenants', ...common]);
    const explainCmdMs = commandMs(explain);

    const t0 = performance.now();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    const stopMs = performance.now() - t0;

    const tenantsFilesMs = commandMs(['tenants', ...common]);
    const explainFilesMs = commandMs(explain);
    return {
      tenants,
      readyMs,
      rssMB: rss,
      baselineMs,
      mkdirMs,
      editMs,
      tenantsCmdMs,
      explainCmdMs,
      tenantsFilesMs,
      explainFilesMs,
      stopMs,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const exponent = (a: number, b: number, na: number, nb: number) => Math.log(b / a) / Math.log(nb / na);
const fmt = (ms: number) => `${Math.round(ms)} ms`;
const range = (xs: number[]) => `${Math.round(median(xs))} ms (max ${Math.round(Math.max(...xs))})`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

const results: SizeResult[] = [];
for (const size of SIZES) {
  const r = await runSize(size);
  results.push(r);
  console.log(
    `${String(r.tenants).padStart(6)} tenants: ready ${fmt(r.readyMs)} (bare file system work ${fmt(r.baselineMs)}), RSS ${r.rssMB} MB, ` +
      `mkdir -> socket ${range(r.mkdirMs)}, grants edit -> enforced on 10 descendants ${range(r.editMs)}, ` +
      `warren tenants ${fmt(r.tenantsCmdMs)} (files alone ${fmt(r.tenantsFilesMs)}), grants explain ${fmt(r.explainCmdMs)} ` +
      `(files alone ${fmt(r.explainFilesMs)}), stop ${fmt(r.stopMs)}`,
  );
}
for (let i = 1; i < results.length; i++) {
  const [a, b] = [results[i - 1]!, results[i]!];
  console.log(
    `exponent ${a.tenants} -> ${b.tenants}: ready ${exponent(a.readyMs, b.readyMs, a.tenants, b.tenants).toFixed(2)} ` +
      `(baseline ${exponent(a.baselineMs, b.baselineMs, a.tenants, b.tenants).toFixed(2)}), ` +
      `RSS ${exponent(a.rssMB, b.rssMB, a.tenants, b.tenants).toFixed(2)}`,
  );
}
const last = results[results.length - 1]!;
const first = results[0]!;
const readyExponent = results.length > 1 ? exponent(first.readyMs, last.readyMs, first.tenants, last.tenants) : NaN;
const worstCommand = Math.max(last.tenantsCmdMs, last.explainCmdMs, last.tenantsFilesMs, last.explainFilesMs);
console.log(`\ntargets at ${last.tenants} tenants:`);
console.log(`  ready <= ${TARGETS.readyMs} ms: ${fmt(last.readyMs)} ${verdict(last.readyMs <= TARGETS.readyMs)}`);
console.log(`  RSS <= ${TARGETS.rssMB} MB: ${last.rssMB} MB ${verdict(last.rssMB <= TARGETS.rssMB)}`);
console.log(`  mkdir -> socket <= ${TARGETS.mkdirMs} ms: ${range(last.mkdirMs)} ${verdict(median(last.mkdirMs) <= TARGETS.mkdirMs)}`);
console.log(`  grants edit -> enforced <= ${TARGETS.editMs} ms: ${range(last.editMs)} ${verdict(median(last.editMs) <= TARGETS.editMs)}`);
if (results.length > 1) {
  console.log(
    `  ready exponent ${first.tenants} -> ${last.tenants} <= ${TARGETS.exponent}: ${readyExponent.toFixed(2)} ${verdict(readyExponent <= TARGETS.exponent)}`,
  );
}
console.log(`  warren tenants / grants explain < ${TARGETS.commandMs} ms: worst ${fmt(worstCommand)} ${verdict(worstCommand < TARGETS.commandMs)}`);
