// A minimal tar writer (ustar + PAX long names) for turning an assembled root filesystem into a `docker import`
// stream. Written here rather than shelling out to tar(1) so that ownership is decided per path by the build (the
// rootfs is assembled by whoever runs the build, but /home/node must belong to uid 1000 in the image) and hard links
// are kept as links (the Claude Code binary is hard-linked and 370 MB).
import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';

const BLOCK = 512;
/** ustar's size field holds 11 octal digits. Nothing in an agent image comes close. */
const MAX_SIZE = 0o77777777777;

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TarHeader {
  /** Path inside the archive, '/'-separated, no leading '/'; directories without a trailing '/'. */
  path: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content that follow (files only; 0 for everything else). */
  size: number;
  mtime: number;
  /** Target of a symlink or hard link. */
  linkname?: string;
}

export interface Ownership {
  uid: number;
  gid: number;
  mode: number;
}

/** Decides owner and mode of each entry from its archive path and the file's own stat. */
export type OwnershipRule = (path: string, stat: Stats) => Ownership;

const TYPEFLAG: Record<EntryType, string> = { file: '0', hardlink: '1', symlink: '2', dir: '5' };

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  const s = Math.floor(value).toString(8);
  if (s.length > width - 1) throw new Error(`tar: value ${value} does not fit in ${width - 1} octal digits`);
  return s.padStart(width - 1, '0') + '\0';
}

function put(buf: Buffer, offset: number, width: number, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > width) throw new Error(`tar: field too long: ${text}`);
  bytes.copy(buf, offset);
}

function fitsUstarName(path: string): boolean {
  return Buffer.byteLength(path) <= 100 && /^[\x20-\x7e]*$/.test(path);
}

/** A PAX extended-header record: "<len> <key>=<value>\n" where <len> counts the whole record, itself included. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function rawHeader(h: TarHeader, typeflag: string, name: string, linkname: string): Buffer {
  const buf = Buffer.alloc(BLOCK, 0);
  put(buf, 0, 100, name);
  put(buf, 100, 8, octal(h.mode & 0o7777, 8));
  put(buf, 108, 8, octal(h.uid, 8));
  put(buf, 116, 8, octal(h.gid, 8));
  put(buf, 124, 12, octal(h.size, 12));
  put(buf, 136, 12, octal(h.mtime, 12));
  buf.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  put(buf, 156, 1, typeflag);
  put(buf, 157, 100, linkname);
  put(buf, 257, 6, 'ustar\0');
  put(buf, 263, 2, '00');
  let sum = 0;
  for (const byte of buf) sum += byte;
  put(buf, 148, 8, octal(sum, 7) + ' ');
  return buf;
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest, 0);
}

/** The header block(s) for one entry: a PAX header first when the path or link target does not fit ustar. */
export function encodeHeader(h: TarHeader): Buffer {
  if (h.size > MAX_SIZE) throw new Error(`tar: ${h.path} is too large (${h.size} bytes)`);
  if (h.type !== 'file' && h.size !== 0) throw new Error(`tar: ${h.path}: only files have content`);
  const name = h.type === 'dir' ? `${h.path}/` : h.path;
  const link = h.linkname ?? '';
  const records: string[] = [];
  if (!fitsUstarName(name)) records.push(paxRecord('path', name));
  if (!fitsUstarName(link)) records.push(paxRecord('linkpath', link));
  const main = rawHeader(
    h,
    TYPEFLAG[h.type],
    fitsUstarName(name) ? name : asciiStub(name),
    fitsUstarName(link) ? link : asciiStub(link),
  );
  if (records.length === 0) return main;
  const pax = Buffer.from(records.join(''), 'utf8');
  const paxHeader = rawHeader(
    { path: 'PaxHeader', type: 'file', mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime: h.mtime },
    'x',
    asciiStub(`PaxHeaders/${name}`),
    '',
  );
  return Buffer.concat([paxHeader, pax, padding(pax.length), main]);
}

/** A readable stand-in for a name that lives in a PAX record (readers that ignore PAX at least see something). */
function asciiStub(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return Buffer.from(ascii).subarray(0, 100).toString('latin1');
}

/** The two zero blocks that end an archive. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(BLOCK * 2, 0);
}

/**
 * Streams a directory as a tar archive (paths relative to `root`, sorted so archives are stable). Regular files,
 * directories and symlinks only; anything else (sockets, devices, FIFOs) is an error, not silently dropped.
 */
export async function* tarDirectory(root: string, owner: OwnershipRule): AsyncGenerator<Buffer> {
  const seen = new Map<string, string>(); // dev:ino -> first archive path, for hard links
  async function* walk(rel: string): AsyncGenerator<Buffer> {
    const names = readdirSync(join(root, rel)).sort();
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const abs = join(root, path);
      const st = lstatSync(abs);
      const { uid, gid, mode } = owner(path, st);
      const mtime = Math.floor(st.mtimeMs / 1000);
      const base = { path, uid, gid, mode, mtime };
      if (st.isDirectory()) {
        yield encodeHeader({ ...base, type: 'dir', size: 0 });
        yield* walk(path);
      } else if (st.isSymbolicLink()) {
        yield encodeHeader({ ...base, type: 'symlink', size: 0, linkname: readlinkSync(abs) });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? seen.get(key) : undefined;
        if (first !== undefined) {
          yield encodeHeader({ ...base, type: 'hardlink', size: 0, linkname: first });
          continue;
        }
        if (st.nlink > 1) seen.set(key, path);
        yield encodeHeader({ ...base, type: 'file', size: st.size });
        let written = 0;
        for await (const chunk of createReadStream(abs)) {
          written += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
        if (written !== st.size) throw new Error(`tar: ${abs} changed size while being archived`);
        yield padding(st.size);
      } else {
        throw new Error(`tar: ${abs} is not a file, directory or symlink`);
      }
    }
  }
  yield* walk('');
  yield endOfArchive();
}
