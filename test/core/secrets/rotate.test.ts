import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { makeKeyring, newKeyEntry } from '../../../core/secrets/keyring.js';
import { readKeyFile, writeKeyFile } from '../../../core/secrets/key-source.js';
import { rotate, type RotateOptions } from '../../../core/secrets/rotate.js';
import { SecretStore } from '../../../core/secrets/store.js';
import { storeBytes, tempDir } from './helpers.js';

const VALUES: [string, string, string][] = [
  ['acme', 'OPENAI_API_KEY', 'sk-acme-0001-rotation-canary'],
  ['acme/support', 'ZENDESK_TOKEN', 'zd-support-0002-rotation-canary'],
  ['acme/support/triage', 'OPENAI_API_KEY', 'sk-triage-0003-rotation-canary'],
  ['root', 'GITHUB_TOKEN', 'ghp-root-0004-rotation-canary'],
];

let dir: string;
let keyFile: string;
let dbFile: string;
let firstKey: string;

beforeEach(() => {
  dir = tempDir();
  keyFile = path.join(dir, 'secrets.key');
  dbFile = path.join(dir, 'secrets.db');
  const e = newKeyEntry();
  firstKey = e.id;
  writeKeyFile(keyFile, makeKeyring([e], e.id, { kind: 'file', file: keyFile }), { exclusive: true });
  const store = SecretStore.open(dbFile, readKeyFile(keyFile));
  for (const [t, n, v] of VALUES) store.set(t, n, v);
  store.close();
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Opens everything with only what is on disk now, as a freshly started process would. */
function readAllFromDisk(): Map<string, string> {
  const store = SecretStore.open(dbFile, readKeyFile(keyFile));
  try {
    return new Map(VALUES.map(([t, n]) => [`${t}:${n}`, store.get(t, n)!]));
  } finally {
    store.close();
  }
}
const expected = new Map(VALUES.map(([t, n, v]) => [`${t}:${n}`, v]));

function crash(): never {
  throw new Error('simulated crash');
}

describe('rotate', () => {
  it('re-seals everything under a new key and retires the old one', () => {
    const r = rotate({ keyFile, dbFile });
    expect(r.resumed).toBe(false);
    expect(r.from).toEqual([firstKey]);
    expect(r.to).not.toBe(firstKey);
    expect(r.resealed).toBe(VALUES.length);
    const ring = readKeyFile(keyFile);
    expect([...ring.keys.keys()]).toEqual([r.to]);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readAllFromDisk()).toEqual(expected);
    const store = SecretStore.open(dbFile, ring);
    expect(new Set(store.list().map((i) => i.keyId))).toEqual(new Set([r.to]));
    expect(store.boundKeyId()).toBe(r.to);
    store.close();
    for (const [, , v] of VALUES) expect(storeBytes(dbFile).includes(Buffer.from(v))).toBe(false);
  });

  it('keeps updated times (the values did not change) and works twice in a row', () => {
    const before = (() => {
      const s = SecretStore.open(dbFile, readKeyFile(keyFile));
      const l = s.list();
      s.close();
      return l.map((i) => i.updatedAt);
    })();
    const a = rotate({ keyFile, dbFile });
    const b = rotate({ keyFile, dbFile });
    expect(b.from).toEqual([a.to]);
    expect(b.to).not.toBe(a.to);
    const s = SecretStore.open(dbFile, readKeyFile(keyFile));
    expect(s.list().map((i) => i.updatedAt)).toEqual(before);
    s.close();
    expect(readAllFromDisk()).toEqual(expected);
  });

  it('rotates an empty store', () => {
    fs.rmSync(dbFile);
    const r = rotate({ keyFile, dbFile });
    expect(r.resealed).toBe(0);
    expect(readKeyFile(keyFile).current).toBe(r.to);
  });

  const crashes: [string, NonNullable<RotateOptions['hooks']>, number][] = [
    ['before the two-key file is committed', { beforeKeyFileCommit: (s) => s === 'key-file-both' && crash() }, 1],
    ['after the two-key file is written', { afterStep: (s) => s === 'key-file-both' && crash() }, 2],
    ['after re-sealing the first row (mid-transaction)', { onRow: (i) => i === 0 && crash() }, 2],
    ['after re-sealing the third row (mid-transaction)', { onRow: (i) => i === 2 && crash() }, 2],
    ['after the re-seal committed', { afterStep: (s) => s === 'resealed' && crash() }, 2],
    ['before the one-key file is committed', { beforeKeyFileCommit: (s) => s === 'key-file-new' && crash() }, 2],
    ['after the one-key file is written', { afterStep: (s) => s === 'key-file-new' && crash() }, 1],
  ];

  it.each(crashes)('a crash %s leaves every value readable, and rotate finishes the job', (_when, hooks, keysLeft) => {
    expect(() => rotate({ keyFile, dbFile, hooks })).toThrow('simulated crash');
    expect(readKeyFile(keyFile).keys.size).toBe(keysLeft);
    expect(readAllFromDisk()).toEqual(expected);

    // The store stays writable in the interrupted state, and what is written then survives the rest.
    const mid = SecretStore.open(dbFile, readKeyFile(keyFile));
    mid.set('acme', 'WRITTEN_MID_ROTATION', 'mid-rotation-value');
    mid.close();

    const r = rotate({ keyFile, dbFile });
    expect(r.resumed).toBe(keysLeft > 1);
    const ring = readKeyFile(keyFile);
    expect([...ring.keys.keys()]).toEqual([r.to]);
    expect(readAllFromDisk()).toEqual(expected);
    const store = SecretStore.open(dbFile, ring);
    expect(store.get('acme', 'WRITTEN_MID_ROTATION')).toBe('mid-rotation-value');
    expect([...store.keyUsage().keys()]).toEqual([r.to]);
    store.close();
  });

  it('a crash mid-transaction leaves every row under the old key (all or nothing)', () => {
    expect(() => rotate({ keyFile, dbFile, hooks: { onRow: (i) => i === 2 && crash() } })).toThrow('simulated crash');
    const store = SecretStore.open(dbFile, readKeyFile(keyFile));
    expect([...store.keyUsage()]).toEqual([[firstKey, VALUES.length]]);
    expect(store.boundKeyId()).toBe(firstKey);
    store.close();
  });

  it('rotations that complete while another is between steps make it stop without dropping a key', () => {
    const inner: ReturnType<typeof rotate>[] = [];
    const hooks = {
      afterStep: (s: string) => {
        if (s !== 'resealed') return;
        inner.push(rotate({ keyFile, dbFile })); // finishes the outer one's rotation…
        inner.push(rotate({ keyFile, dbFile })); // …and starts and finishes another
      },
    };
    expect(() => rotate({ keyFile, dbFile, hooks })).toThrow(/run "warren secrets rotate" again/);
    expect(inner.map((r) => r.resumed)).toEqual([true, false]);
    expect([...readKeyFile(keyFile).keys.keys()]).toEqual([inner[1]!.to]);
    expect(readAllFromDisk()).toEqual(expected);
    expect(rotate({ keyFile, dbFile }).from).toEqual([inner[1]!.to]);
    expect(readAllFromDisk()).toEqual(expected);
  });

  it('refuses to rotate with the wrong key file and changes nothing', () => {
    const other = newKeyEntry();
    const otherFile = path.join(dir, 'other.key');
    writeKeyFile(otherFile, makeKeyring([other], other.id, { kind: 'file', file: otherFile }));
    expect(() => rotate({ keyFile: otherFile, dbFile })).toThrow(/wrong secrets key/);
    expect([...readKeyFile(otherFile).keys.keys()]).toEqual([other.id]);
    expect(readAllFromDisk()).toEqual(expected);
  });
});
