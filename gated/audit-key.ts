// The per-installation key that audit digests are keyed with (DATA/audit.key: 32 random bytes, 0600). Without it a
// digest cannot be confirmed by guessing short values; with it the operator can (`warren audit digest`).
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, mkdirSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { keyFilePermissionProblem } from '../core/secrets/keyring.js';

export const AUDIT_KEY_FILE = 'audit.key';
export const AUDIT_KEY_BYTES = 32;

export class AuditKeyError extends Error {}

export function auditKeyPath(dataDir: string): string {
  return join(dataDir, AUDIT_KEY_FILE);
}

/**
 * The audit key, created on first use when `create` is set (gated's start) and only read otherwise (the CLI).
 * Refuses anything but a regular file of exactly 32 bytes, owned by us and private to us.
 */
export function loadAuditKey(dataDir: string, options: { create: boolean }): Buffer {
  const file = auditKeyPath(dataDir);
  const key = readAuditKey(file);
  if (key) return key;
  if (!options.create) {
    throw new AuditKeyError(`no audit key: ${file} does not exist (gated creates it when it first starts)`);
  }
  createAuditKey(file);
  // Read back what is there: if another process won the race to create it, its key is the one in use.
  const created = readAuditKey(file);
  if (!created) throw new AuditKeyError(`audit key ${file} vanished right after it was created`);
  return created;
}

/** The key, or null when the file does not exist; throws AuditKeyError for anything unsafe or malformed. */
function readAuditKey(file: string): Buffer | null {
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink in its place is refused, not followed; O_NONBLOCK: a FIFO must not hang start-up.
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new AuditKeyError(`audit key ${file} is a symbolic link; it must be a regular file`);
    throw new AuditKeyError(`cannot read audit key ${file}: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AuditKeyError(`audit key ${file} is not a regular file`);
    const problem = keyFilePermissionProblem(file, st, process.getuid?.());
    if (problem) throw new AuditKeyError(problem.replace(/^key file/, 'audit key'));
    const buf = Buffer.alloc(AUDIT_KEY_BYTES + 1);
    let len = 0;
    for (let n; len < buf.length && (n = readSync(fd, buf, len, buf.length - len, null)) > 0; ) len += n;
    if (len !== AUDIT_KEY_BYTES) {
      throw new AuditKeyError(`audit key ${file} is not ${AUDIT_KEY_BYTES} bytes long; it is not an audit key`);
    }
    return buf.subarray(0, AUDIT_KEY_BYTES);
  } finally {
    closeSync(fd);
  }
}

/** Atomically: a private temp file, fsync, link into place (never replacing an existing key), fsync the directory. */
function createAuditKey(file: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      fchmodSync(fd, 0o600); // the umask can only remove bits; this makes the mode exact
      const key = randomBytes(AUDIT_KEY_BYTES);
      for (let off = 0; off < key.length; ) off += writeSync(fd, key, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, file);
    } catch (e) {
      // Someone else created it first: theirs is kept (replacing it would orphan the digests made with it).
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  } finally {
    unlinkSync(tmp);
  }
  let dirFd: number | undefined;
  try {
    dirFd = openSync(dir, constants.O_RDONLY);
    fsyncSync(dirFd);
  } catch {
    // Some file systems cannot fsync a directory; the link itself is still atomic.
  } finally {
    if (dirFd !== undefined) closeSync(dirFd);
  }
}
