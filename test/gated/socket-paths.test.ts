// Socket paths always fit a unix socket (107 bytes), every caller computes the same one, a tenant whose path cannot
// fit is refused with a reason, and no socket or empty socket folder is left behind by a crash, a removal or a stop.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { silentLogger, type Logger } from '../../core/log.js';
import { Gated, runSocketPath, tenantSocketPath } from '../../gated/broker.js';
import { MAX_SOCKET_PATH_BYTES, runSocketPlace, tenantIpcDirs, tenantSocketPlace } from '../../gated/socket-paths.js';
import { requireBuilt, warren, warrenAsync } from '../helpers/cli.js';
import { startGated, stopWithin } from '../helpers/gated-process.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { standardTree, tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const DEEP = `${A}/${B}/${C}`;
const UUID_RUN = 'run_0b6c1f3e-2a4d-4c59-9e8f-1a2b3c4d5e6f';

const bytes = (s: string) => Buffer.byteLength(s);
/** A data folder path of exactly `n` bytes. */
const dataOf = (n: number) => '/' + 'd'.repeat(n - 1);

function capturingLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines: () => lines };
}

/** Every socket file under `dir`, relative to it. */
function socketsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSocket()) out.push(relative(dir, p));
      else if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** A data folder inside the tree whose path is exactly `n` bytes long. */
function dataDirOfLength(tree: TempTree, n: number): string {
  const pad = n - bytes(tree.root) - 1;
  if (pad < 1) throw new Error(`the temp folder ${tree.root} is too long for a ${n}-byte data folder`);
  return join(tree.root, 'd'.repeat(pad));
}

describe('socket path rules', () => {
  it.each([
    ['a short tree keeps the readable path', dataOf(20), 'acme/support', `${dataOf(20)}/ipc/acme.support/gated.sock`],
    ['a readable path of exactly 107 bytes stays readable', dataOf(79), 'acme/support', `${dataOf(79)}/ipc/acme.support/gated.sock`],
  ])('%s', (_, data, tenant, expected) => {
    expect(tenantSocketPlace(data, tenant)).toEqual({ ok: true, path: expected });
    expect(bytes(expected)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
  });

  it.each([
    ['one byte over the limit', dataOf(32), 'x'.repeat(60)],
    ['three segments of 64 characters', dataOf(20), DEEP],
    ['a long data folder and a short tenant', dataOf(74), A],
  ])('the short form when the readable path would not fit: %s', (_, data, tenant) => {
    const place = tenantSocketPlace(data, tenant);
    if (!place.ok) throw new Error(place.reason);
    expect(place.path).toMatch(new RegExp(`^${data}/ipc/\\+[0-9a-f]{16}/gated\\.sock$`));
    expect(bytes(place.path)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    expect(dirname(place.path)).toBe(tenantIpcDirs(data, tenant).short);
    // Deterministic: every caller (gated, warren connect, warren tenants) gets the same path with no shared state.
    expect(tenantSocketPlace(data, tenant)).toEqual(place);
    expect(tenantSocketPath(data, tenant)).toBe(place.path);
  });

  it('different tenants never share a short folder', () => {
    const tenants = [DEEP, `${A}/${B}`, `${A}/${C}`, `${A}/${B}/${'d'.repeat(64)}`, `${B}/${A}`];
    const paths = tenants.map((t) => tenantSocketPath(dataOf(60), t));
    expect(new Set(paths).size).toBe(tenants.length);
  });

  it.each([
    [dataOf(75), DEEP, 108, 74],
    [dataOf(90), 'x'.repeat(20), 123, 74],
    ['/' + 'é'.repeat(40), DEEP, 81 + 33, 74],
  ])('refuses when even the short form cannot fit (data %#): the reason names tenant, length, limit and fix', (data, tenant, length, maxData) => {
    const place = tenantSocketPlace(data, tenant);
    expect(place.ok).toBe(false);
    if (place.ok) return;
    expect(place.bytes).toBe(length);
    expect(place.reason).toContain(`the socket path for ${tenant} would be ${length} bytes`);
    expect(place.reason).toContain(`over the ${MAX_SOCKET_PATH_BYTES}-byte limit`);
    expect(place.reason).toContain(`use a shorter --data (at most ${maxData} bytes)`);
    expect(() => tenantSocketPath(data, tenant)).toThrow(place.reason);
  });

  it('the longest data folder the short form allows fits exactly', () => {
    const place = tenantSocketPlace(dataOf(74), DEEP);
    expect(place.ok && bytes(place.path)).toBe(MAX_SOCKET_PATH_BYTES);
  });

  it.each([
    ['a uuid run of a short tenant keeps its readable name', dataOf(30), 'acme', UUID_RUN, `${dataOf(30)}/ipc/acme/run-${UUID_RUN}.sock`],
    ['a uuid run of a long tenant is short', dataOf(30), `${A}/${B}`, UUID_RUN, /\/ipc\/\+[0-9a-f]{16}\/run-[0-9a-f]{16}\.sock$/],
    ['a uuid run that would overflow next to a readable tenant socket is short', dataOf(30), 'x'.repeat(40), UUID_RUN, /\/ipc\/\+[0-9a-f]{16}\/run-[0-9a-f]{16}\.sock$/],
    ['a run id that is not a plain name is never used as a file name', dataOf(30), 'acme', '../../x', /\/ipc\/\+[0-9a-f]{16}\/run-[0-9a-f]{16}\.sock$/],
  ])('run sockets: %s', (_, data, tenant, run, expected) => {
    const path = runSocketPath(data, tenant, run);
    if (typeof expected === 'string') expect(path).toBe(expected);
    else expect(path).toMatch(expected);
    expect(path.startsWith(`${data}/ipc/`)).toBe(true);
    expect(bytes(path)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    expect(runSocketPath(data, tenant, run)).toBe(path);
  });

  it('run sockets of one long tenant differ per run and are refused when they cannot fit', () => {
    expect(runSocketPath(dataOf(40), DEEP, 'run_1')).not.toBe(runSocketPath(dataOf(40), DEEP, 'run_2'));
    expect(bytes(runSocketPath(dataOf(59), DEEP, UUID_RUN))).toBe(MAX_SOCKET_PATH_BYTES);
    const refused = runSocketPlace(dataOf(60), DEEP, UUID_RUN);
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.reason).toMatch(/use a shorter --data \(at most 59 bytes\)/);
  });
});

describe('gated on a deep tree of long names', () => {
  let tree: TempTree | undefined;
  let gated: Gated | undefined;
  afterEach(async () => {
    await gated?.stop();
    gated = undefined;
    tree?.cleanup();
  });

  it('serves every tenant on a path that fits, with the right mode, and run sockets too', async () => {
    tree = tempTree({ [`${DEEP}/`]: '', 'acme/': '' });
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    const tenants = ['acme', A, `${A}/${B}`, DEEP];
    expect([...gated.sockets().keys()].sort()).toEqual([...tenants].sort());
    for (const tenant of tenants) {
      const path = gated.sockets().get(tenant)!;
      expect(path).toBe(tenantSocketPath(tree.data, tenant));
      expect(bytes(path)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
      expect(statSync(path).mode & 0o777).toBe(0o660);
      const client = await connectClient(path);
      expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).tenant).toBe(tenant);
      await client.close();
    }
    const run = await gated.openRunSocket(DEEP, { id: UUID_RUN, topic: 'main', chat: null, depth: 0 });
    expect(bytes(run.socketPath)).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    const client = await connectClient(run.socketPath);
    expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })))).toMatchObject({ tenant: DEEP, run: UUID_RUN });
    await client.close();
    await run.close();
  });

  it('refuses (with a warning) a tenant whose socket cannot fit, binds nothing for it, and serves the others', async () => {
    tree = tempTree({ [`${DEEP}/`]: '', 'acme/': '' });
    const data = dataDirOfLength(tree, 80);
    const { log, lines } = capturingLogger();
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: data, log, watch: false });
    await gated.settled(); // a second pass does not repeat the warning
    expect([...gated.sockets().keys()]).toEqual(['acme']);
    expect(socketsUnder(data)).toEqual(['control/gated.sock', 'ipc/acme/gated.sock']);
    const warnings = lines().filter((l) => l.level === 40);
    expect(warnings.map((w) => w.tenant).sort()).toEqual([A, `${A}/${B}`, DEEP].sort());
    for (const w of warnings) {
      expect(w).toMatchObject({ bytes: 113, limit: MAX_SOCKET_PATH_BYTES });
      expect(w.msg).toContain(`tenant gets no socket: the socket path for ${w.tenant as string} would be 113 bytes`);
      expect(w.msg).toContain('use a shorter --data (at most 74 bytes)');
    }
    const client = await connectClient(gated.socketPath('acme'));
    expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).tenant).toBe('acme');
    await client.close();
    await expect(gated.openRunSocket(DEEP, { id: 'r1', topic: 'main', chat: null, depth: 0 })).rejects.toThrow(/use a shorter --data/);
    const connect = warren(['connect', DEEP, '--data', data]);
    expect(connect.status).toBe(1);
    expect(connect.stderr).toMatch(/would be 113 bytes .*over the 107-byte limit.*use a shorter --data/);
    const listed = await warrenAsync(['tenants', '--tenants', tree.tenants, '--data', data]); // it asks this gated
    expect(listed.stdout).toMatch(new RegExp(`^${DEEP}\\s+tier 2\\s+ok\\s+\\(no socket: .*use a shorter --data`, 'm'));
  });

  it('warren gated serves a long tenant to warren connect and still exits promptly on SIGTERM', async () => {
    tree = tempTree({ [`${DEEP}/`]: '' });
    const p = await startGated(tree.tenants, tree.data);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [requireBuilt(), 'connect', DEEP, '--data', tree.data],
      stderr: 'pipe',
    });
    const client = new Client({ name: 'long-names', version: '0' });
    await client.connect(transport);
    expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).tenant).toBe(DEEP);
    await client.close();
    expect(await stopWithin(p, 5000)).toBe(0);
    expect(socketsUnder(tree.data)).toEqual([]);
  });
});

/** Starts a real gated in a child process, opens run sockets there, and kills it with SIGKILL: what a crash leaves. */
async function crashGatedWithRuns(tree: TempTree, runs: [tenant: string, id: string][]): Promise<void> {
  const script = `
    const { Gated } = await import(process.env.BROKER);
    const gated = await Gated.start({ tenantsDir: process.env.TENANTS, dataDir: process.env.DATA, watch: false });
    for (const [tenant, id] of JSON.parse(process.env.RUNS)) await gated.openRunSocket(tenant, { id, topic: 'main', chat: null, depth: 0 });
    process.stdout.write('ready\\n');
    setInterval(() => undefined, 60_000);
  `;
  const broker = new URL('../../dist/gated/broker.js', import.meta.url).href;
  requireBuilt();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, BROKER: broker, TENANTS: tree.tenants, DATA: tree.data, RUNS: JSON.stringify(runs), WARREN_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  try {
    await eventually(() => out.includes('ready') || child.exitCode !== null, 'the crashing gated to be ready', 30_000);
    if (!out.includes('ready')) throw new Error(`the crashing gated failed:\n${err}`);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

describe('nothing piles up under DATA/ipc', () => {
  let tree: TempTree | undefined;
  let gated: Gated | undefined;
  afterEach(async () => {
    await gated?.stop();
    gated = undefined;
    tree?.cleanup();
  });

  it("a start after kill -9 removes the run sockets and the folders of tenants that are gone, and nothing else", async () => {
    tree = standardTree();
    await crashGatedWithRuns(tree, [['acme', 'r1'], ['acme', UUID_RUN], ['acme/support', 'r2'], ['globex', 'r3']]);
    const ipc = join(tree.data, 'ipc');
    expect(socketsUnder(ipc)).toEqual(expect.arrayContaining(['acme/run-r1.sock', `acme/run-${UUID_RUN}.sock`, 'globex/run-r3.sock']));
    // Things that are not gated's leftovers: an operator's file, and a symlink to a folder holding a socket.
    writeFileSync(join(ipc, 'acme', 'notes.txt'), 'keep me\n');
    await crashGatedWithRuns({ ...tree, data: join(tree.root, 'other-data') }, [['acme', 'x1']]);
    symlinkSync(join(tree.root, 'other-data', 'ipc', 'acme'), join(ipc, 'linked'));
    rmSync(join(tree.tenants, 'globex'), { recursive: true });

    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    expect(socketsUnder(ipc)).toEqual(['acme.support.triage/gated.sock', 'acme.support/gated.sock', 'acme/gated.sock', 'root/gated.sock']);
    expect(existsSync(join(ipc, 'globex'))).toBe(false);
    expect(existsSync(join(ipc, 'acme', 'notes.txt'))).toBe(true);
    expect(lstatSync(join(ipc, 'linked')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(tree.root, 'other-data', 'ipc', 'acme', 'run-x1.sock')).isSocket()).toBe(true);
  });

  it("a removed tenant's socket folder goes with it, run sockets included", async () => {
    tree = standardTree();
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    await gated.openRunSocket('globex', { id: 'r1', topic: 'main', chat: null, depth: 0 });
    const folder = tenantIpcDirs(tree.data, 'globex').readable;
    expect(readdirSync(folder).sort()).toEqual(['gated.sock', 'run-r1.sock']);
    rmSync(join(tree.tenants, 'globex'), { recursive: true });
    gated.registry.refresh();
    await gated.settled();
    expect(existsSync(folder)).toBe(false);
    expect(existsSync(tenantIpcDirs(tree.data, 'acme').readable)).toBe(true);
  });

  it("binds no socket through a symlink or into another user's folder placed under DATA/ipc, and serves the others", async () => {
    // Whoever can write to a socket's folder can swap the socket for their own; gated would bind there today.
    tree = standardTree();
    const ipc = join(tree.data, 'ipc');
    const elsewhere = join(tree.root, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o777 });
    mkdirSync(ipc, { recursive: true });
    symlinkSync(elsewhere, join(ipc, 'acme'));
    // Each with a file in it, so that the start's sweep of emptied folders leaves them.
    mkdirSync(join(ipc, 'globex'));
    writeFileSync(join(ipc, 'globex', 'notes.txt'), '');
    const foreign = process.getuid?.() === 0 ? 4242 : undefined; // only root can give a folder away
    if (foreign !== undefined) chownSync(join(ipc, 'globex'), foreign, foreign);
    mkdirSync(join(ipc, 'root'));
    writeFileSync(join(ipc, 'root', 'notes.txt'), '');
    chmodSync(join(ipc, 'root'), 0o777);
    const { log, lines } = capturingLogger();
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log, watch: false });
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(lines()).toContainEqual(expect.objectContaining({ tenant: 'acme', msg: 'could not open tenant socket', err: expect.objectContaining({ message: `${join(ipc, 'acme')} is a symlink; socket folders are never followed (remove it)` }) }));
    if (foreign !== undefined) {
      expect(existsSync(join(ipc, 'globex', 'gated.sock'))).toBe(false);
      expect(lines()).toContainEqual(expect.objectContaining({ tenant: 'globex', msg: 'could not open tenant socket', err: expect.objectContaining({ message: expect.stringContaining(`${join(ipc, 'globex')} belongs to uid ${foreign}`) }) }));
    }
    // A folder of gated's own user that others may write to is closed up, then used.
    expect(statSync(join(ipc, 'root')).mode & 0o777).toBe(0o755);
    const client = await connectClient(tenantSocketPath(tree.data, 'acme/support'));
    expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).tenant).toBe('acme/support');
    await client.close();
  });

  it('stop leaves no socket and no socket folder, and keeps files that are not sockets', async () => {
    tree = tempTree({ [`${DEEP}/`]: '', 'acme/': '' });
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    await gated.openRunSocket('acme', { id: 'r1', topic: 'main', chat: null, depth: 0 });
    await gated.openRunSocket(DEEP, { id: UUID_RUN, topic: 'main', chat: null, depth: 0 });
    writeFileSync(join(tenantIpcDirs(tree.data, 'acme').readable, 'notes.txt'), 'keep me\n');
    await gated.stop();
    gated = undefined;
    const ipc = join(tree.data, 'ipc');
    expect(socketsUnder(ipc)).toEqual([]);
    expect(readdirSync(ipc)).toEqual(['acme']);
    expect(readdirSync(join(ipc, 'acme'))).toEqual(['notes.txt']);
  });
});
