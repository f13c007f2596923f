// One warren per data folder: DATA/warren.lock names its process by pid and start time; a second start refuses,
// a stale lock (its process gone, or its pid reused) is taken over, and an unreadable one is never taken over.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../core/log.js';
import { Gated } from '../../gated/broker.js';
import { acquireDataLock, DataLockError, judgeLock, parseLock, startTimeFromStat, type LockOwner } from '../../gated/data-lock.js';
import { spawnGated, startGated, stopWithin } from '../helpers/gated-process.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { standardTree, tempTree, type TempTree } from '../helpers/tree.js';

/** A /proc/<pid>/stat line: pid, (comm), state, then fields 4..52 with the start time as field 22. */
function stat(comm: string, state: string, start: string): string {
  const rest = Array.from({ length: 49 }, (_, i) => String(i + 4));
  rest[22 - 4] = start;
  return `4242 (${comm}) ${state} ${rest.join(' ')}\n`;
}

const OWNER: LockOwner = { pid: 4242, start: '987654', since: '2026-12-01T21:00:00.000Z' };

function capturingLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines: () => lines };
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('the lock decision', () => {
  it.each([
    ['a plain line', stat('node', 'S', '987654'), '987654'],
    ['a name with spaces and parentheses', stat('we ird) (name', 'R', '12'), '12'],
    ['a line cut short', '4242 (node) S 1 2 3\n', null],
    ['not a stat line', 'hello', null],
    ['a start time that is not a number', stat('node', 'S', 'soon'), null],
  ])('start time from /proc/<pid>/stat: %s', (_, line, expected) => {
    expect(startTimeFromStat(line)).toBe(expected);
  });

  it.each<[string, LockOwner, string | null, boolean, string?]>([
    ['its process is running with the same start time', OWNER, stat('node', 'S', '987654'), true],
    ['no process has its pid', OWNER, null, false, 'pid 4242 is not running'],
    ['its process has exited but is not reaped yet', OWNER, stat('node', 'Z', '987654'), false, 'pid 4242 has exited'],
    ['its pid now belongs to a process started later', OWNER, stat('bash', 'S', '999999'), false, 'pid 4242 now belongs to another process'],
    ['its start time was not recorded and the pid runs', { ...OWNER, start: null }, stat('bash', 'S', '999999'), true],
    ['the running process shows no start time', OWNER, '4242 (node) S\n', true],
  ])('held or stale: %s', (_, owner, ownerStat, held, why) => {
    const verdict = judgeLock(owner, ownerStat);
    expect(verdict.held).toBe(held);
    if (!verdict.held) expect(verdict.why).toBe(why);
  });

  it.each([
    ['a lock this module wrote', JSON.stringify(OWNER), OWNER],
    ['one without a start time', JSON.stringify({ ...OWNER, start: null }), { ...OWNER, start: null }],
    ['an empty file', '', null],
    ['not JSON', 'pid 4242', null],
    ['pid zero', JSON.stringify({ ...OWNER, pid: 0 }), null],
    ['pid as a string', JSON.stringify({ ...OWNER, pid: '4242' }), null],
    ['a start time that is not digits', JSON.stringify({ ...OWNER, start: '-1' }), null],
    ['no since', JSON.stringify({ pid: 4242, start: '1' }), null],
  ])('reading a lock file: %s', (_, text, expected) => {
    expect(parseLock(text)).toEqual(expected);
  });
});

describe('DATA/warren.lock', () => {
  let tree: TempTree | undefined;
  afterEach(() => tree?.cleanup());
  /** A temp tree whose data folder exists (a lock file can be planted there). */
  const treeWithData = () => {
    const t = tempTree();
    mkdirSync(t.data);
    return t;
  };

  it('is created 0600 naming this process, refuses a second holder, and goes on release', () => {
    tree = treeWithData();
    const lock = acquireDataLock(tree.data, silentLogger());
    const file = join(tree.data, 'warren.lock');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const owner = parseLock(readFileSync(file, 'utf8'))!;
    expect(owner.pid).toBe(process.pid);
    expect(owner.start).toBe(startTimeFromStat(readFileSync('/proc/self/stat', 'utf8')));
    expect(() => acquireDataLock(tree!.data, silentLogger())).toThrow(
      new DataLockError(`warren is already running on ${tree.data}: pid ${process.pid} since ${owner.since}; stop it first`),
    );
    lock.release();
    expect(existsSync(file)).toBe(false);
    acquireDataLock(tree.data, silentLogger()).release();
  });

  it.each([
    ['its process is gone', async () => ({ pid: await deadPid(), start: '1', since: '2026-01-01T00:00:00.000Z' })],
    ['its pid was reused (by this very process)', async () => ({ pid: process.pid, start: '1', since: '2026-01-01T00:00:00.000Z' })],
  ])('a stale lock is taken over with an info line: %s', async (_, makeOwner) => {
    tree = treeWithData();
    const stale = await makeOwner();
    writeFileSync(join(tree.data, 'warren.lock'), JSON.stringify(stale), { flag: 'wx' });
    const { log, lines } = capturingLogger();
    const lock = acquireDataLock(tree.data, log);
    expect(parseLock(readFileSync(lock.path, 'utf8'))!.pid).toBe(process.pid);
    expect(lines()).toEqual([
      expect.objectContaining({ level: 30, msg: 'stale data lock taken over', holder: stale, lock: lock.path }),
    ]);
    lock.release();
  });

  it('a lock it cannot read is never taken over', () => {
    tree = treeWithData();
    const file = join(tree.data, 'warren.lock');
    writeFileSync(file, 'garbage\n', { flag: 'wx' });
    expect(() => acquireDataLock(tree!.data, silentLogger())).toThrow(/warren\.lock is not a warren lock; if no warren is running on .*, remove it/);
    expect(readFileSync(file, 'utf8')).toBe('garbage\n');
  });

  it('a symlink in the lock\'s place is neither followed nor replaced', () => {
    tree = treeWithData();
    const file = join(tree.data, 'warren.lock');
    const target = join(tree.root, 'elsewhere');
    symlinkSync(target, file);
    expect(() => acquireDataLock(tree!.data, silentLogger())).toThrow(/warren\.lock cannot be read/);
    expect(existsSync(target)).toBe(false);
  });

  it('a folder in the lock\'s place is refused by name, and left alone', () => {
    tree = treeWithData();
    const file = join(tree.data, 'warren.lock');
    mkdirSync(file);
    expect(() => acquireDataLock(tree!.data, silentLogger())).toThrow(
      new DataLockError(`${file} is not a regular file; if no warren is running there, remove it`),
    );
    expect(statSync(file).isDirectory()).toBe(true);
  });

  it('a FIFO in the lock\'s place makes `warren gated` exit at once naming it, instead of waiting for a writer', async () => {
    // A real process: before the fix opening the FIFO blocks the whole process, which no test timeout interrupts.
    tree = standardTree();
    mkdirSync(tree.data);
    const file = join(tree.data, 'warren.lock');
    execFileSync('mkfifo', [file]);
    const gated = spawnGated(tree.tenants, tree.data);
    const late = setTimeout(() => gated.child.kill('SIGKILL'), 5000);
    expect(await gated.exited).toBe(1);
    clearTimeout(late);
    expect(gated.stderr()).toContain(`warren gated: ${file} is not a regular file; if no warren is running there, remove it`);
    expect(statSync(file).isFIFO()).toBe(true);
  });

  it('release leaves a lock that is no longer its own', () => {
    tree = treeWithData();
    const lock = acquireDataLock(tree.data, silentLogger());
    const other = JSON.stringify({ ...OWNER, pid: process.pid }) + '\n';
    writeFileSync(lock.path, other);
    lock.release();
    expect(readFileSync(lock.path, 'utf8')).toBe(other);
  });
});

describe('one gated per data folder', () => {
  let tree: TempTree | undefined;
  afterEach(() => tree?.cleanup());

  it('a second Gated.start on the same data refuses and leaves the first serving; after stop a new one starts', async () => {
    tree = standardTree();
    const options = { tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false };
    const first = await Gated.start(options);
    await expect(Gated.start(options)).rejects.toThrow(/^warren is already running on .*: pid \d+ since .*; stop it first$/);
    const client = await connectClient(first.socketPath('acme'));
    expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).tenant).toBe('acme');
    await client.close();
    await first.stop();
    expect(existsSync(join(tree.data, 'warren.lock'))).toBe(false);
    const again = await Gated.start(options);
    await again.stop();
  });

  it('warren gated twice: the second exits non-zero naming the first; after kill -9 of the first a new one starts', async () => {
    tree = standardTree();
    const first = await startGated(tree.tenants, tree.data);
    const second = spawnGated(tree.tenants, tree.data);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(
      `warren gated: warren is already running on ${tree.data}: pid ${first.child.pid} since `,
    );
    expect(second.stderr()).toMatch(/since \d{4}-\d\d-\d\dT[\d:.]+Z; stop it first\n/);
    expect(existsSync(join(tree.data, 'ipc', 'acme', 'gated.sock'))).toBe(true);

    expect(await stopWithin(first, 5000, 'SIGKILL')).toBe('SIGKILL');
    const third = await startGated(tree.tenants, tree.data);
    const takeover = third.stderr().split('\n').filter((l) => l.includes('stale data lock taken over')).map((l) => JSON.parse(l));
    expect(takeover).toEqual([expect.objectContaining({ level: 30, holder: expect.objectContaining({ pid: first.child.pid }), why: `pid ${first.child.pid} is not running` })]);
    const client = await connectClient(join(tree.data, 'ipc', 'acme', 'gated.sock'));
    expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).tenant).toBe('acme');
    await client.close();
    expect(await stopWithin(third, 5000)).toBe(0);
    expect(existsSync(join(tree.data, 'warren.lock'))).toBe(false);
  });
});
