// One warren per data folder. DATA/warren.lock (created with O_EXCL, 0600) names the process holding it by pid and
// by the start time the kernel gives that process, so a pid reused by another process is not taken for the owner.
// A lock whose process is gone is stale and taken over; a lock that cannot be read is never taken over.
import { closeSync, constants, fstatSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';

export const LOCK_FILE_NAME = 'warren.lock';

export interface LockOwner {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); null where /proc could not tell. */
  start: string | null;
  /** When the lock was taken (ISO 8601), for the operator. */
  since: string;
}

export type LockVerdict = { held: true; owner: LockOwner } | { held: false; owner: LockOwner; why: string };

export class DataLockError extends Error {}

/** The start time in a /proc/<pid>/stat line, or null when the line is not one. */
export function startTimeFromStat(stat: string): string | null {
  // The command name (field 2) is in parentheses and may itself hold spaces and ")": fields restart after the last ")".
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const fields = stat.slice(close + 1).trim().split(/\s+/); // fields[0] is field 3 (state)
  const start = fields[22 - 3];
  return start !== undefined && /^\d+$/.test(start) ? start : null;
}

function stateFromStat(stat: string): string | null {
  const close = stat.lastIndexOf(')');
  return close < 0 ? null : (stat.slice(close + 1).trim().split(/\s+/)[0] ?? null);
}

/** The owner named by a lock file's text, or null when the text is not a lock this module wrote. */
export function parseLock(text: string): LockOwner | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { pid, start, since } = value as Record<string, unknown>;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return null;
  if (start !== null && (typeof start !== 'string' || !/^\d+$/.test(start))) return null;
  if (typeof since !== 'string') return null;
  return { pid, start, since };
}

/** Is the lock still held, given its owner and /proc/<owner pid>/stat now (null: no such process)? */
export function judgeLock(owner: LockOwner, ownerStat: string | null): LockVerdict {
  if (ownerStat === null) return { held: false, owner, why: `pid ${owner.pid} is not running` };
  const state = stateFromStat(ownerStat);
  if (state === 'Z' || state === 'X') return { held: false, owner, why: `pid ${owner.pid} has exited` };
  const start = startTimeFromStat(ownerStat);
  // Without a start time on either side the pid alone decides, and a running pid means held (fail closed).
  if (owner.start !== null && start !== null && start !== owner.start) {
    return { held: false, owner, why: `pid ${owner.pid} now belongs to another process` };
  }
  return { held: true, owner };
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

function procStat(pid: number | 'self'): string | null {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if (errno(error) === 'ENOENT' || errno(error) === 'ESRCH') return null;
    throw error;
  }
}

/** The lock's text; null when there is none. O_NONBLOCK: a FIFO put in its place must not hang the start. */
function readLockText(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (errno(error) === 'ENOENT') return null;
    throw new DataLockError(`${path} cannot be read (${(error as Error).message}); if no warren is running there, remove it`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw new DataLockError(`${path} is not a regular file; if no warren is running there, remove it`);
    return readFileSync(fd, 'utf8');
  } catch (error) {
    if (error instanceof DataLockError) throw error;
    throw new DataLockError(`${path} cannot be read (${(error as Error).message}); if no warren is running there, remove it`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves a stale lock out of the way, unless another process replaced it after it was judged: the text read now is
 * compared with the text judged, and a lock that is not the judged one is put back.
 */
function removeStaleLock(path: string, judgedText: string): void {
  const aside = `${path}.stale-${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if (errno(error) === 'ENOENT') return; // someone else removed it first
    throw error;
  }
  if (readLockText(aside) !== judgedText) {
    try {
      linkSync(aside, path);
    } catch {
      // a newer lock is already in place; it stands
    }
  }
  unlinkSync(aside);
}

export interface DataLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock file if it is still this one. */
  release(): void;
}

/** Takes DATA/warren.lock for this process, or throws DataLockError naming the process that holds it. */
export function acquireDataLock(dataDir: string, log: Logger): DataLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, LOCK_FILE_NAME);
  const self = procStat('self');
  const owner: LockOwner = { pid: process.pid, start: self === null ? null : startTimeFromStat(self), since: new Date().toISOString() };
  const text = JSON.stringify(owner) + '\n';
  let replaced: { holder: LockOwner; why: string } | null = null;
  // A few rounds: each lost race (a lock released or replaced between two steps) is looked at again.
  for (let round = 0; round < 5; round++) {
    try {
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        writeSync(fd, text);
      } finally {
        closeSync(fd);
      }
      if (replaced) {
        const { holder, why } = replaced;
        log.info({ lock: path, holder, why }, 'stale data lock taken over'); // holder: not "pid", which is ours
      }
      return { path, owner, release: () => releaseDataLock(path, text) };
    } catch (error) {
      if (errno(error) !== 'EEXIST') throw error;
    }
    const found = readLockText(path);
    if (found === null) continue;
    const holder = parseLock(found);
    if (!holder) throw new DataLockError(`${path} is not a warren lock; if no warren is running on ${dataDir}, remove it`);
    const verdict = judgeLock(holder, procStat(holder.pid));
    if (verdict.held) {
      throw new DataLockError(`warren is already running on ${dataDir}: pid ${holder.pid} since ${holder.since}; stop it first`);
    }
    removeStaleLock(path, found);
    replaced = { holder, why: verdict.why };
  }
  throw new DataLockError(`${path} keeps changing; is another warren starting on ${dataDir}?`);
}

function releaseDataLock(path: string, ownText: string): void {
  let found: string | null;
  try {
    found = readLockText(path);
  } catch {
    return;
  }
  if (found === ownText) unlinkSync(path);
}
