import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { keyIdOf } from '../../../core/secrets/crypto.js';
import { makeKeyring, newKeyEntry } from '../../../core/secrets/keyring.js';
import { loadKeyring, readKeyFile, resolveKeySource, writeKeyFile } from '../../../core/secrets/key-source.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function ringFor(file: string) {
  const e = newKeyEntry();
  return makeKeyring([e], e.id, { kind: 'file', file });
}

describe('resolveKeySource', () => {
  const data = '/srv/data';
  it('defaults to DATA/secrets.key', () => {
    expect(resolveKeySource({ dataDir: data, env: {} })).toEqual({ kind: 'file', file: '/srv/data/secrets.key' });
  });
  it('uses WARREN_SECRETS_KEY_FILE, then WARREN_SECRETS_KEY, and --key-file over both', () => {
    expect(resolveKeySource({ dataDir: data, env: { WARREN_SECRETS_KEY_FILE: '/k/f' } })).toEqual({ kind: 'file', file: '/k/f' });
    expect(resolveKeySource({ dataDir: data, env: { WARREN_SECRETS_KEY: 'x' } })).toEqual({ kind: 'env', variable: 'WARREN_SECRETS_KEY' });
    expect(resolveKeySource({ dataDir: data, keyFile: '/flag', env: { WARREN_SECRETS_KEY: 'x', WARREN_SECRETS_KEY_FILE: '/k/f' } })).toEqual({
      kind: 'file',
      file: '/flag',
    });
  });
  it('refuses both environment variables at once', () => {
    expect(() => resolveKeySource({ dataDir: data, env: { WARREN_SECRETS_KEY: 'x', WARREN_SECRETS_KEY_FILE: '/k/f' } })).toThrow(/both/);
  });
});

describe('reading and writing key files', () => {
  it('writes 0600 atomically and reads back', () => {
    const file = path.join(dir, 'sub', 'secrets.key');
    const ring = ringFor(file);
    writeKeyFile(file, ring, { exclusive: true });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(file + '.tmp')).toBe(false);
    const back = readKeyFile(file);
    expect(back.current).toBe(ring.current);
    expect(loadKeyring({ dataDir: path.join(dir, 'sub'), env: {} }).current).toBe(ring.current);
  });

  it('exclusive writes never overwrite an existing key file', () => {
    const file = path.join(dir, 'secrets.key');
    const first = ringFor(file);
    writeKeyFile(file, first, { exclusive: true });
    expect(() => writeKeyFile(file, ringFor(file), { exclusive: true })).toThrow(/already exists/);
    expect(readKeyFile(file).current).toBe(first.current);
    expect(fs.existsSync(file + '.tmp')).toBe(false);
  });

  it('a crash before the rename leaves the old file intact', () => {
    const file = path.join(dir, 'secrets.key');
    const first = ringFor(file);
    writeKeyFile(file, first, { exclusive: true });
    expect(() =>
      writeKeyFile(file, ringFor(file), {
        beforeCommit: () => {
          throw new Error('crash');
        },
      }),
    ).toThrow('crash');
    expect(readKeyFile(file).current).toBe(first.current);
  });

  it('replaces a stale temp file left by a crash', () => {
    const file = path.join(dir, 'secrets.key');
    fs.writeFileSync(file + '.tmp', 'stale', { mode: 0o644 });
    const ring = ringFor(file);
    writeKeyFile(file, ring);
    expect(readKeyFile(file).current).toBe(ring.current);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a missing key file and says how to create one', () => {
    expect(() => loadKeyring({ dataDir: dir, env: {} })).toThrow(/does not exist\. Run "warren secrets init"/);
  });

  it.each([0o640, 0o644, 0o604, 0o660, 0o606])('refuses a key file with mode %o', (mode) => {
    const file = path.join(dir, 'secrets.key');
    writeKeyFile(file, ringFor(file));
    fs.chmodSync(file, mode);
    expect(() => readKeyFile(file)).toThrow(/group\/other|chmod 600/);
  });

  it('accepts owner-only modes', () => {
    const file = path.join(dir, 'secrets.key');
    writeKeyFile(file, ringFor(file));
    for (const mode of [0o400, 0o600, 0o700]) {
      fs.chmodSync(file, mode);
      expect(() => readKeyFile(file)).not.toThrow();
    }
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a key file owned by another user', () => {
    const file = path.join(dir, 'secrets.key');
    writeKeyFile(file, ringFor(file));
    fs.chownSync(file, 4242, 4242);
    expect(() => readKeyFile(file)).toThrow(/owned by uid 4242/);
  });

  it('refuses a directory, a short key and a malformed file', () => {
    const file = path.join(dir, 'secrets.key');
    fs.mkdirSync(file, { mode: 0o700 });
    expect(() => readKeyFile(file)).toThrow(/not a regular file/);
    fs.rmdirSync(file);
    const short = randomBytes(16);
    fs.writeFileSync(
      file,
      JSON.stringify({ format: 'warren-secrets-key', version: 1, current: 'k-1', keys: [{ id: keyIdOf(randomBytes(32)), key: short.toString('base64') }] }),
      { mode: 0o600 },
    );
    expect(() => readKeyFile(file)).toThrow(/exactly 32 bytes/);
    fs.writeFileSync(file, 'garbage', { mode: 0o600 });
    expect(() => readKeyFile(file)).toThrow(/malformed/);
    fs.writeFileSync(file, 'x'.repeat(70_000), { mode: 0o600 });
    expect(() => readKeyFile(file)).toThrow(/larger than/);
  });

  it('loads a key from WARREN_SECRETS_KEY and refuses a short one', () => {
    const key = randomBytes(32);
    expect(loadKeyring({ dataDir: dir, env: { WARREN_SECRETS_KEY: key.toString('base64') } }).current).toBe(keyIdOf(key));
    expect(() => loadKeyring({ dataDir: dir, env: { WARREN_SECRETS_KEY: randomBytes(31).toString('base64') } })).toThrow(/31 bytes/);
  });
});

describe('a FIFO where the key file should be', () => {
  it('is refused at once instead of hanging', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-fifo-'));
    try {
      const fifo = path.join(dir, 'secrets.key');
      execFileSync('mkfifo', ['-m', '600', fifo]);
      expect(() => readKeyFile(fifo)).toThrow(/not a regular file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
