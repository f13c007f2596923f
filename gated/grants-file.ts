// Edits a descendant's grants file on behalf of the `grant`/`revoke` tools. The file stays plain text an operator can
// read and diff: granted lines are appended with a marker comment naming who granted them, and only marked lines are
// ever removed. Writes are atomic (temp file + rename) and refuse anything that is not a regular file.
import { lstatSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const GRANT_MARKER = '# granted by ';

function readRegular(file: string): string {
  try {
    const st = lstatSync(file);
    if (!st.isFile()) throw new Error(`${file} is not a regular file`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
  return readFileSync(file, 'utf8');
}

function writeAtomic(file: string, text: string): void {
  const tmp = join(dirname(file), `.grants.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, text, { mode: 0o644, flag: 'wx' });
  renameSync(tmp, file);
}

export function grantedLine(ruleText: string, by: string, at: Date): string {
  return `${ruleText}  ${GRANT_MARKER}${by} ${at.toISOString()}`;
}

/** Granted lines stop well before the grants file size limit, so `grant` can never make a descendant's file invalid. */
export const MAX_GRANTS_FILE_BYTES = 256 * 1024;

export function appendGrant(file: string, ruleText: string, by: string, at = new Date()): void {
  const text = readRegular(file);
  if (Buffer.byteLength(text) + ruleText.length + 100 > MAX_GRANTS_FILE_BYTES) {
    throw new Error(`${file} is full (${MAX_GRANTS_FILE_BYTES} bytes); an operator must tidy it before more grants`);
  }
  const sep = text.length === 0 || text.endsWith('\n') ? '' : '\n';
  writeAtomic(file, `${text}${sep}${grantedLine(ruleText, by, at)}\n`);
}

/**
 * Removes granted lines whose rule equals `ruleText` (as `sameRule` decides) and that were granted by `by` or by any
 * tenant `mayRevoke` accepts. Operator-written lines are never touched. Returns how many lines were removed.
 */
export function removeGrant(
  file: string,
  matches: (lineRule: string) => boolean,
  mayRevoke: (grantedBy: string) => boolean,
): number {
  const text = readRegular(file);
  if (!text) return 0;
  let removed = 0;
  const kept = text.split('\n').filter((line) => {
    const at = line.indexOf(GRANT_MARKER);
    if (at < 0) return true;
    const grantedBy = line.slice(at + GRANT_MARKER.length).split(' ')[0] ?? '';
    if (matches(line.slice(0, at).trim()) && mayRevoke(grantedBy)) {
      removed++;
      return false;
    }
    return true;
  });
  if (removed > 0) writeAtomic(file, kept.join('\n'));
  return removed;
}
