// DATA/audit.key: made once, atomically and privately; anything that is not a private regular file of 32 bytes is
// refused with a clear error rather than used or replaced.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { AuditKeyError, auditKeyPath, loadAuditKey } from '../../gated/audit-key.js';
import { Gated } from '../../gated/broker.js';

let data: string;
beforeEach(() => {
  data = mkdtempSync(join(tmpdir(), 'warren-audit-key-'));
});
afterEach(() => rmSync(data, { recursive: true, force: true }));

describe('the audit key', () => {
  it('is created on first start: 32 random bytes, mode 0600, no temp file left behind', () => {
    const key = loadAuditKey(data, { create: true });
    expect(key.length).toBe(32);
    const file = auditKeyPath(data);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.compare(readFileSync(file), key)).toBe(0);
    expect(readdirSync(data)).toEqual(['audit.key']);
  });

  it('is kept from then on, and differs between installations', () => {
    const first = loadAuditKey(data, { create: true });
    expect(Buffer.compare(loadAuditKey(data, { create: true }), first)).toBe(0);
    expect(Buffer.compare(loadAuditKey(data, { create: false }), first)).toBe(0);
    const other = mkdtempSync(join(tmpdir(), 'warren-audit-key-'));
    try {
      expect(Buffer.compare(loadAuditKey(other, { create: true }), first)).not.toBe(0);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('is never created by a reader (the CLI): a missing key is an error naming the file', () => {
    expect(() => loadAuditKey(data, { create: false })).toThrow(/no audit key: .*audit\.key does not exist/);
  });

  const refusals: [string, (file: string) => void, RegExp][] = [
    ['a symbolic link', (file) => {
      writeFileSync(join(data, 'elsewhere'), Buffer.alloc(32, 1), { mode: 0o600 });
      symlinkSync(join(data, 'elsewhere'), file);
    }, /is a symbolic link/],
    ['a FIFO', (file) => execFileSync('mkfifo', ['-m', '600', file]), /is not a regular file/],
    ['a directory', (file) => mkdirSync(file, { mode: 0o700 }), /is not a regular file/],
    ['group readable', (file) => {
      writeFileSync(file, Buffer.alloc(32, 1));
      chmodSync(file, 0o640);
    }, /has mode 640: group\/other may not have any access. Run: chmod 600/],
    ['world readable', (file) => {
      writeFileSync(file, Buffer.alloc(32, 1));
      chmodSync(file, 0o604);
    }, /has mode 604/],
    ['the wrong length', (file) => writeFileSync(file, 'not a key\n', { mode: 0o600 }), /is not 32 bytes long/],
  ];
  for (const [what, make, message] of refusals) {
    it(`is refused when it is ${what}, and left as it is`, () => {
      const file = auditKeyPath(data);
      make(file);
      const before = statSync(file, { throwIfNoEntry: false });
      for (const create of [true, false]) {
        let error: unknown;
        try {
          loadAuditKey(data, { create });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(AuditKeyError);
        expect((error as Error).message).toMatch(message);
      }
      expect(statSync(file, { throwIfNoEntry: false })?.ino).toBe(before?.ino);
    });
  }

  it('a refused key stops gated from starting, with the reason', async () => {
    const tenants = join(data, 'tenants');
    mkdirSync(join(tenants, 'acme'), { recursive: true });
    const dataDir = join(data, 'data');
    mkdirSync(dataDir);
    writeFileSync(auditKeyPath(dataDir), Buffer.alloc(32, 1));
    chmodSync(auditKeyPath(dataDir), 0o644);
    await expect(Gated.start({ tenantsDir: tenants, dataDir, log: silentLogger(), watch: false })).rejects.toThrow(/audit key .* has mode 644/);
  });
});
