// Streams an assembled root filesystem as a tar archive for `docker import`. The archive format (ustar headers,
// PAX records for long or non-ASCII names, padding, end blocks) is tar-stream's job; this module only decides what
// goes in: the tree walked with lstat (links are archived, never followed), ownership per path (the rootfs is
// assembled by whoever runs the build, but /home/node must belong to uid 1000 in the image), and hard links kept as
// links (the Claude Code binary is hard-linked and 370 MB; storing it twice would double the import).
import { constants, createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pack as createPack, type Header, type Pack } from 'tar-stream';

/** What `pack.entry()` takes: a header with at least a name. */
type EntryHeader = Partial<Header> & Pick<Header, 'name'>;
/** The writable side of one entry (a streamx Writable). */
type Sink = ReturnType<Pack['entry']>;

export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
}

/** Decides owner and mode of each entry from its archive path and the file's own stat. */
export type OwnershipRule = (path: string, stat: Stats) => Ownership;

/** tar-stream writes uid/gid as 6 octal digits and silently clamps bigger ids, so we refuse them instead. */
export const MAX_ID = 0o777777;

/** Checks what the rule decided before it goes into a header (a wrong owner in an image is a security bug). */
export function checkOwnership(path: string, own: Ownership): Ownership {
  for (const [field, id] of [['uid', own.uid], ['gid', own.gid]] as const) {
    if (!Number.isInteger(id) || id < 0 || id > MAX_ID) {
      throw new Error(`tar: ${path}: ${field} ${id} is not a valid id`);
    }
  }
  if (!Number.isInteger(own.mode) || own.mode < 0 || own.mode > 0o7777) {
    throw new Error(`tar: ${path}: mode ${own.mode} is not a permission mode (0..0o7777)`);
  }
  return own;
}

/**
 * Streams a directory as a tar archive (paths relative to `root`, each directory's names sorted so archives are
 * stable). Directories, regular files, symlinks and hard links only; anything else (sockets, devices, FIFOs) is an
 * error, not silently dropped. Any error ends the stream with that error, so a half-written archive never looks done.
 */
export async function* tarDirectory(root: string, owner: OwnershipRule): AsyncGenerator<Buffer> {
  const pack = createPack();
  const writing = writeTree(pack, root, owner).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  try {
    for await (const chunk of pack) yield chunk as Buffer;
  } finally {
    // The reader stopped early or failed: stop the walk too (its pending write sees the destroyed entry and throws).
    pack.destroy();
    await writing;
  }
}

/**
 * Adds every entry under `root` to `pack`, one at a time. File content waits for the reader whenever the pack is
 * full; header-only entries (directories, links) are not held back, which buffers at most 512 bytes per such entry
 * between two files.
 */
async function writeTree(pack: Pack, root: string, owner: OwnershipRule): Promise<void> {
  const seen = new Map<string, string>(); // dev:ino -> first archive path, for hard links
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(join(root, rel))).sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, path);
      const st = await lstat(abs);
      const { uid, gid, mode } = checkOwnership(path, owner(path, st));
      // tar-stream replaces a falsy mode with 0644/0755 and keeps only the low 12 bits, so the file-type bits make a
      // mode of 0 (e.g. a 000 file) survive as 0.
      const base = { uid, gid, mode: (st.mode & constants.S_IFMT) | mode, mtime: st.mtime };
      if (st.isDirectory()) {
        await addEntry(pack, { ...base, name: `${path}/`, type: 'directory' });
        await walk(path);
      } else if (st.isSymbolicLink()) {
        await addEntry(pack, { ...base, name: path, type: 'symlink', linkname: await readlink(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seen.get(key) : undefined;
        if (first !== undefined) {
          await addEntry(pack, { ...base, name: path, type: 'link', linkname: first });
          continue;
        }
        if (st.nlink > 1) seen.set(key, path);
        await addFile(pack, { ...base, name: path, type: 'file', size: st.size }, abs);
      } else {
        throw new Error(`tar: ${abs} is not a file, directory or symlink`);
      }
    }
  }
  await walk('');
}

/** Adds an entry without content and resolves once tar-stream has written its header. */
function addEntry(pack: Pack, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}

/** Streams one file's content into its entry, pausing whenever the archive's reader is behind. */
async function addFile(pack: Pack, header: EntryHeader & { size: number }, abs: string): Promise<void> {
  let entry!: Sink;
  const finished = new Promise<void>((resolve, reject) => {
    entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
  finished.catch(() => {}); // awaited below unless the walk throws first, which ends the whole archive anyway
  let written = 0;
  for await (const chunk of createReadStream(abs)) {
    written += (chunk as Buffer).length;
    if (written > header.size) break;
    if (!entry.write(chunk) && !(await drained(entry))) break;
  }
  if (entry.destroying) {
    await finished; // rejects with the reason the archive ended
    throw new Error('tar: archive closed while writing');
  }
  // Thrown, not left to tar-stream's generic "Size mismatch", so the build says which file moved under it.
  if (written !== header.size) throw new Error(`tar: ${abs} changed size while being archived`);
  entry.end(undefined); // streamx's typing wants an argument; undefined means "no last chunk"
  await finished;
}

/** Waits until `entry` accepts more data (true) or was destroyed because the archive ended early (false). */
function drained(entry: Sink): Promise<boolean> {
  // Destroyed before we got here means 'close' may already have fired: waiting for it would hang the walk.
  if (entry.destroying) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      entry.off('drain', onDrain);
      entry.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    entry.on('drain', onDrain);
    entry.on('close', onClose);
  });
}
