// Opening a file inside a tenant's web/ without ever leaving it. The agent writes web/ from its container and may
// race us, so the check is made on the open descriptor itself: no component may be a symlink (lstat), the last is
// opened with O_NOFOLLOW, and the descriptor's real path (/proc/self/fd) must lie inside web/'s real path.
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { lstat, readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';

/** `fd` is the caller's to close. */
export type OpenResult = { ok: true; fd: number; stat: Stats; name: string } | { ok: false; reason: string };

/** Opens web/<segments> (or its index.html when `directory`), refusing anything that is not a plain file inside. */
export async function openInside(webDir: string, segments: readonly string[], directory: boolean): Promise<OpenResult> {
  const root = await webRoot(webDir);
  if (root === null) return { ok: false, reason: 'web/ is missing or not a plain folder' };
  const names = directory ? [...segments, 'index.html'] : [...segments];
  if (names.length === 0) names.push('index.html');
  let path = root;
  for (const name of names) {
    path = join(path, name);
    try {
      // Synchronous (here, open and fstat): metadata of a local folder; a thread-pool trip costs more than the call.
      if (lstatSync(path).isSymbolicLink()) return { ok: false, reason: 'a symlink on the path' };
    } catch {
      return { ok: false, reason: 'not found' };
    }
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return { ok: false, reason: 'cannot open' };
  }
  try {
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (!real.startsWith(root + '/')) throw new Error('outside web/');
    const stat = fstatSync(fd);
    if (stat.isDirectory()) {
      closeSync(fd);
      // A folder named without its trailing "/": only served (as its index) when asked as a folder.
      return { ok: false, reason: 'a folder' };
    }
    if (!stat.isFile()) throw new Error('not a plain file');
    return { ok: true, fd, stat, name: names[names.length - 1]! };
  } catch (error) {
    closeSync(fd);
    return { ok: false, reason: (error as Error).message };
  }
}

const ROOT_CACHE_MS = 1000;
const roots = new Map<string, { real: string | null; at: number }>();

/**
 * web/'s real path, or null when it is missing or not a plain folder. Cached for a second: only the operator can
 * replace web/ itself (the agent writes inside it), and every file is still checked against it after opening.
 */
async function webRoot(webDir: string): Promise<string | null> {
  const known = roots.get(webDir);
  if (known && Date.now() - known.at < ROOT_CACHE_MS) return known.real;
  let real: string | null = null;
  try {
    const st = await lstat(webDir);
    if (!st.isSymbolicLink() && st.isDirectory()) real = await realpath(webDir);
  } catch {
    real = null;
  }
  if (roots.size > 10_000) roots.clear();
  roots.set(webDir, { real, at: Date.now() });
  return real;
}

/** Bytes under a folder, counting files by their size, never following links; stops early past `limit`. */
export async function folderBytes(dir: string, limit = Infinity): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0 && total <= limit) {
    const current = pending.pop()!;
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const p = join(current, entry.name);
      if (entry.isDirectory()) pending.push(p);
      else if (entry.isFile()) total += (await lstat(p).catch(() => ({ size: 0 }))).size;
    }
  }
  return total;
}
