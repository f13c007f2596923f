// Reading one operator file (PERSONA.md, grants, allowlist, SKILL.md) without ever following a symlink, blocking on a
// FIFO, or swallowing a giant file. Every refusal is a ConfigError naming the file.
import * as fs from 'node:fs';
import type { ConfigError } from '../config-error.js';
import { MAX_FILE_BYTES } from './layout.js';

export type ReadResult =
  | { kind: 'missing' }
  | { kind: 'ok'; text: string }
  | { kind: 'error'; error: ConfigError };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(file: string, message: string): ReadResult {
  return { kind: 'error', error: { file, line: 0, message } };
}

/** Reads a regular file of at most `maxBytes`, as strict UTF-8. A missing file is not an error (callers decide). */
export function readOperatorFile(file: string, maxBytes = MAX_FILE_BYTES): ReadResult {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    if (isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR')) return { kind: 'missing' };
    return fail(file, `cannot read: ${describe(err)}`);
  }
  if (st.isSymbolicLink()) return fail(file, 'is a symlink; operator files are never followed');
  if (!st.isFile()) return fail(file, 'is not a regular file');
  if (st.size > maxBytes) return fail(file, `is larger than ${maxBytes} bytes`);

  // O_NOFOLLOW closes the gap between lstat and open; O_NONBLOCK keeps a FIFO swapped in meanwhile from hanging us.
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return { kind: 'missing' };
    if (isCode(err, 'ELOOP')) return fail(file, 'is a symlink; operator files are never followed');
    return fail(file, `cannot read: ${describe(err)}`);
  }
  try {
    const fst = fs.fstatSync(fd);
    if (!fst.isFile()) return fail(file, 'is not a regular file');
    // Read until EOF, not just fstat's size: a file that grew meanwhile must be read whole or refused, never cut.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(fst.size, 4096), maxBytes) + 1);
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) return fail(file, `is larger than ${maxBytes} bytes`);
    }
    const buf = Buffer.concat(chunks, total);
    try {
      return { kind: 'ok', text: stripBom(utf8.decode(buf)) };
    } catch {
      return fail(file, 'is not valid UTF-8');
    }
  } catch (err) {
    return fail(file, `cannot read: ${describe(err)}`);
  } finally {
    fs.closeSync(fd);
  }
}

function stripBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

export function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

export function describe(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.message : String(err);
}
