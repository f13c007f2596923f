// The operator token guards the gateway's HTTP API. Created at first start in DATA/operator.token (0600); the CLI
// reads it from there. Compared in constant time.
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function operatorTokenPath(dataDir: string): string {
  return join(dataDir, 'operator.token');
}

export function ensureOperatorToken(dataDir: string): string {
  const file = operatorTokenPath(dataDir);
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `wop_${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return readOperatorToken(dataDir);
}

export function readOperatorToken(dataDir: string): string {
  const file = operatorTokenPath(dataDir);
  const st = statSync(file);
  if ((st.mode & 0o077) !== 0) throw new Error(`${file} must not be readable by group or others (chmod 600 ${file})`);
  return readFileSync(file, 'utf8').trim();
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (!presented) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}
