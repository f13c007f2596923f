// Where gated's unix sockets live, and how leftovers are cleared. A socket path is limited to 107 bytes (sun_path
// is 108 with the NUL) and the kernel silently truncates a longer one, so no path is bound before it is checked here.
// Every caller (gated, `warren connect`, `warren tenants`) computes the same path from (DATA, tenant[, run]) alone.
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tenantId, type TenantPath } from '../core/tenant-path.js';

export const MAX_SOCKET_PATH_BYTES = 107;
export const TENANT_SOCKET_NAME = 'gated.sock';
/** Marks a short folder name; never part of a tenant id (ids use only lowercase letters, digits, "-", "_", "."). */
const SHORT_PREFIX = '+';
const HASH_HEX_DIGITS = 16;
/** A run id used as-is in a file name: a plain name, nothing that could leave the folder. */
const PLAIN_RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export type SocketPlace =
  | { ok: true; path: string }
  | { ok: false; path: string; bytes: number; reason: string };

export function ipcDir(dataDir: string): string {
  return join(dataDir, 'ipc');
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, HASH_HEX_DIGITS);
}

/** The readable folder (`ipc/acme.support`) and the short one (`ipc/+<hash of the tenant path>`) of a tenant. */
export function tenantIpcDirs(dataDir: string, tenant: TenantPath): { readable: string; short: string } {
  return {
    readable: join(ipcDir(dataDir), tenantId(tenant)),
    short: join(ipcDir(dataDir), SHORT_PREFIX + shortHash(tenant)),
  };
}

function bytesOf(path: string): number {
  return Buffer.byteLength(path, 'utf8');
}

/** The readable path when it fits, else the short one when that fits, else a refusal that says what to change. */
function place(dataDir: string, tenant: TenantPath, readableName: string | null, shortName: string): SocketPlace {
  const dirs = tenantIpcDirs(dataDir, tenant);
  if (readableName !== null) {
    const readable = join(dirs.readable, readableName);
    if (bytesOf(readable) <= MAX_SOCKET_PATH_BYTES) return { ok: true, path: readable };
  }
  const short = join(dirs.short, shortName);
  const bytes = bytesOf(short);
  if (bytes <= MAX_SOCKET_PATH_BYTES) return { ok: true, path: short };
  // What follows DATA is fixed in the short form, so the fix is a DATA of at most this many bytes.
  const maxDataBytes = MAX_SOCKET_PATH_BYTES - bytesOf(join('/ipc', SHORT_PREFIX + shortHash(tenant), shortName));
  return {
    ok: false,
    path: short,
    bytes,
    reason:
      `the socket path for ${tenant} would be ${bytes} bytes even in its short form (${short}), over the ` +
      `${MAX_SOCKET_PATH_BYTES}-byte limit of unix socket paths; use a shorter --data (at most ${maxDataBytes} bytes)`,
  };
}

/** The tenant's socket: `DATA/ipc/<tenant id>/gated.sock`, or `DATA/ipc/+<hash>/gated.sock` when that is too long. */
export function tenantSocketPlace(dataDir: string, tenant: TenantPath): SocketPlace {
  return place(dataDir, tenant, TENANT_SOCKET_NAME, TENANT_SOCKET_NAME);
}

/** A run's socket, next to its tenant's: `run-<run id>.sock`, or `+<hash>/run-<hash of the run id>.sock`. */
export function runSocketPlace(dataDir: string, tenant: TenantPath, runId: string): SocketPlace {
  return place(dataDir, tenant, PLAIN_RUN_ID.test(runId) ? `run-${runId}.sock` : null, `run-${shortHash(runId)}.sock`);
}

export class SocketPathError extends Error {}

/** The path of a place that fits; throws SocketPathError with the reason otherwise. */
export function placedPath(place: SocketPlace): string {
  if (!place.ok) throw new SocketPathError(place.reason);
  return place.path;
}

/**
 * Makes sure `dirs` (outermost first) are folders fit to hold gated's sockets: whoever can write to a socket's
 * folder can swap the socket for one of their own, which clients would then trust as gated. So each must be a real
 * folder (a symlink placed there is never followed) owned by this user; write access for group and others is taken
 * away. The last one is created (mode `mode`) if missing. Throws SocketPathError naming the folder otherwise.
 */
export function ensurePrivateSocketDirs(dirs: readonly string[], mode: number): void {
  mkdirSync(dirs[dirs.length - 1]!, { recursive: true, mode });
  const uid = process.getuid?.();
  for (const dir of dirs) {
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) throw new SocketPathError(`${dir} is a symlink; socket folders are never followed (remove it)`);
    if (!st.isDirectory()) throw new SocketPathError(`${dir} is not a folder (remove it)`);
    if (uid !== undefined && st.uid !== uid) {
      throw new SocketPathError(`${dir} belongs to uid ${st.uid}, not to this user (uid ${uid}), who could swap its sockets; remove it`);
    }
    if ((st.mode & 0o022) !== 0) chmodSync(dir, st.mode & 0o7755);
  }
}

/** Removes `path` when it is a socket (lstat: a symlink is never followed); true when it did. */
function removeIfSocket(path: string): boolean {
  try {
    if (!lstatSync(path).isSocket()) return false;
    unlinkSync(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Removes the sockets in `dir` (never any other kind of file); `dir` itself stays. */
function clearSockets(dir: string): { sockets: number; removed: false; isDir: boolean } {
  let names: string[];
  try {
    if (!lstatSync(dir).isDirectory()) return { sockets: 0, removed: false, isDir: false };
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { sockets: 0, removed: false, isDir: false };
    throw error;
  }
  let sockets = 0;
  for (const name of names) if (removeIfSocket(join(dir, name))) sockets++;
  return { sockets, removed: false, isDir: true };
}

/** Removes the sockets in `dir` (never any other kind of file) and then `dir` itself if that left it empty. */
export function clearSocketDir(dir: string): { sockets: number; removed: boolean } {
  const { sockets, isDir } = clearSockets(dir);
  if (!isDir) return { sockets, removed: false };
  try {
    rmdirSync(dir);
    return { sockets, removed: true };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return { sockets, removed: false };
    throw error;
  }
}

/**
 * Clears every socket under DATA/ipc and every folder that leaves empty, except the folders `keepFolder` names (a
 * start keeps those it is about to listen in: removing a folder is slow on some file systems, and 10,000 of them
 * took 20 s on one). Only for a caller that holds the data lock and has closed (or not yet opened) its own sockets:
 * then none of them is live.
 */
export function sweepIpc(dataDir: string, keepFolder: (path: string) => boolean = () => false): { sockets: number; folders: number } {
  const root = ipcDir(dataDir);
  let names: string[];
  try {
    if (!lstatSync(root).isDirectory()) return { sockets: 0, folders: 0 };
    names = readdirSync(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { sockets: 0, folders: 0 };
    throw error;
  }
  const total = { sockets: 0, folders: 0 };
  for (const name of names) {
    const path = join(root, name);
    if (removeIfSocket(path)) {
      total.sockets++;
      continue;
    }
    const cleared = keepFolder(path) ? clearSockets(path) : clearSocketDir(path);
    total.sockets += cleared.sockets;
    if (cleared.removed) total.folders++;
  }
  return total;
}
