import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SecretsError } from '../../../core/secrets/errors.js';
import { newKeyEntry, makeKeyring } from '../../../core/secrets/keyring.js';
import { SecretStore } from '../../../core/secrets/store.js';
import { ring, storeBytes, tempDir } from './helpers.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = tempDir();
  file = path.join(dir, 'data', 'secrets.db');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs SQL against the store file behind the store's back, as an attacker with write access to DATA would. */
function raw(sql: string, ...params: unknown[]): void {
  const db = new Database(file);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

describe('SecretStore', () => {
  it('stores, opens, lists, overwrites and removes', () => {
    const keys = ring();
    const store = SecretStore.open(file, keys);
    const t0 = new Date('2026-01-01T00:00:00Z');
    const info = store.set('acme', 'API_KEY', 'v1-secret', t0);
    expect(info).toEqual({ tenant: 'acme', name: 'API_KEY', keyId: keys.current, createdAt: t0.toISOString(), updatedAt: t0.toISOString() });
    expect(store.get('acme', 'API_KEY')).toBe('v1-secret');
    expect(store.get('acme', 'NOPE')).toBeUndefined();
    const t1 = new Date('2026-02-01T00:00:00Z');
    const again = store.set('acme', 'API_KEY', 'v2-secret', t1);
    expect(again.createdAt).toBe(t0.toISOString());
    expect(again.updatedAt).toBe(t1.toISOString());
    expect(store.get('acme', 'API_KEY')).toBe('v2-secret');
    store.set('acme/support', 'TOKEN', 'tok-1');
    expect(store.list().map((i) => `${i.tenant}:${i.name}`)).toEqual(['acme:API_KEY', 'acme/support:TOKEN']);
    expect(store.list('acme/support').map((i) => i.name)).toEqual(['TOKEN']);
    expect(store.remove('acme', 'API_KEY')).toBe(true);
    expect(store.remove('acme', 'API_KEY')).toBe(false);
    expect(store.get('acme', 'API_KEY')).toBeUndefined();
    store.close();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses invalid tenants, names and values', () => {
    const store = SecretStore.open(file, ring());
    expect(() => store.set('Acme', 'A_B', 'value')).toThrow(/invalid tenant/);
    expect(() => store.set('root/x', 'A_B', 'value')).toThrow(/invalid tenant/);
    expect(() => store.set('acme', 'PATH', 'value')).toThrow(/reserved/);
    expect(() => store.set('acme', 'WARREN_X', 'value')).toThrow(/reserved/);
    expect(() => store.set('acme', 'A_B', '')).toThrow(/empty/);
    expect(store.list()).toEqual([]);
    store.close();
  });

  describe('tampering with rows fails to open', () => {
    let keys: ReturnType<typeof ring>;
    beforeEach(() => {
      keys = ring();
      const store = SecretStore.open(file, keys);
      store.set('acme', 'ALPHA', 'alpha-value');
      store.set('acme', 'BETA', 'beta-value');
      store.set('other', 'ALPHA', 'other-alpha');
      store.close();
    });
    const cases: [string, string][] = [
      ['nonce zeroed', `UPDATE secrets SET nonce = zeroblob(12) WHERE tenant='acme' AND name='ALPHA'`],
      ['ciphertext replaced', `UPDATE secrets SET ciphertext = randomblob(length(ciphertext)) WHERE tenant='acme' AND name='ALPHA'`],
      ['tag replaced', `UPDATE secrets SET tag = randomblob(16) WHERE tenant='acme' AND name='ALPHA'`],
      [
        'sealed value swapped in from another name',
        `UPDATE secrets SET (nonce, ciphertext, tag) = (SELECT nonce, ciphertext, tag FROM secrets WHERE tenant='acme' AND name='BETA') WHERE tenant='acme' AND name='ALPHA'`,
      ],
      [
        'sealed value swapped in from another tenant',
        `UPDATE secrets SET (nonce, ciphertext, tag) = (SELECT nonce, ciphertext, tag FROM secrets WHERE tenant='other' AND name='ALPHA') WHERE tenant='acme' AND name='ALPHA'`,
      ],
      ['format version changed', `UPDATE secrets SET version = 2 WHERE tenant='acme' AND name='ALPHA'`],
    ];
    it.each(cases)('%s', (_what, sql) => {
      raw(sql);
      const store = SecretStore.open(file, keys);
      expect(() => store.get('acme', 'ALPHA')).toThrow(SecretsError);
      expect(store.get('acme', 'BETA')).toBe('beta-value');
      store.close();
    });

    it('a row moved to another tenant', () => {
      raw(`UPDATE secrets SET tenant = 'evil' WHERE tenant='acme' AND name='ALPHA'`);
      const store = SecretStore.open(file, keys);
      expect(() => store.get('evil', 'ALPHA')).toThrow(/failed authentication/);
      store.close();
    });

    it('a row relabelled with another key id the keyring holds', () => {
      const other = newKeyEntry();
      const both = makeKeyring([...keys.keys.values(), other], keys.current, keys.source);
      raw(`UPDATE secrets SET key_id = ? WHERE tenant='acme' AND name='ALPHA'`, other.id);
      const store = SecretStore.open(file, both);
      expect(() => store.get('acme', 'ALPHA')).toThrow(/failed authentication/);
      store.close();
    });
  });

  it('refuses a wrong key at open, naming the key it needs', () => {
    const right = ring();
    const store = SecretStore.open(file, right);
    store.set('acme', 'A_KEY', 'value-123');
    store.close();
    const wrong = ring();
    expect(() => SecretStore.open(file, wrong)).toThrow(new RegExp(`wrong secrets key.*needs key ${right.current}`));
  });

  it('refuses a wrong key even when the bound store is empty', () => {
    const right = ring();
    SecretStore.open(file, right).bind();
    expect(() => SecretStore.open(file, ring())).toThrow(/wrong secrets key/);
  });

  it('binds on first write and reports it to inspect without a key', () => {
    const keys = ring();
    expect(SecretStore.inspect(file)).toEqual({ bound: null, keyIds: [] });
    const store = SecretStore.open(file, keys);
    expect(store.boundKeyId()).toBeNull();
    store.set('acme', 'A_KEY', 'value-123');
    expect(store.boundKeyId()).toBe(keys.current);
    store.close();
    expect(SecretStore.inspect(file)).toEqual({ bound: keys.current, keyIds: [keys.current] });
  });

  it('refuses writes from a process whose keyring went stale after a rotation', () => {
    const a = newKeyEntry();
    const b = newKeyEntry();
    const stale = ring(a);
    const writer = SecretStore.open(file, stale);
    writer.set('acme', 'A_KEY', 'value-123');
    // Another process rotates: both keys, re-seal under b.
    const rotator = SecretStore.open(file, ring(a, b));
    expect(rotator.reseal()).toBe(1);
    rotator.close();
    expect(() => writer.set('acme', 'B_KEY', 'value-456')).toThrow(/wrong secrets key/);
    expect(() => writer.get('acme', 'A_KEY')).toThrow(/wrong secrets key/);
    writer.close();
    const fresh = SecretStore.open(file, ring(b));
    expect(fresh.get('acme', 'A_KEY')).toBe('value-123');
    expect(fresh.list().map((i) => i.name)).toEqual(['A_KEY']);
    fresh.close();
  });

  it('a keyring function is re-read on every operation', () => {
    const a = newKeyEntry();
    const b = newKeyEntry();
    let current = ring(a);
    const store = SecretStore.open(file, () => current);
    store.set('acme', 'A_KEY', 'value-123');
    current = ring(a, b);
    store.reseal();
    current = ring(b);
    expect(store.get('acme', 'A_KEY')).toBe('value-123');
    expect(store.list()[0]!.keyId).toBe(b.id);
    store.close();
  });

  it('never writes a plaintext value to the database, its WAL or shm', () => {
    const keys = ring();
    const store = SecretStore.open(file, keys);
    const values = ['PLAINTEXT-CANARY-one-7f3a9c', 'second canary ünïcødé 42e1', 'x'.repeat(300) + 'LONG-CANARY'];
    values.forEach((v, i) => store.set('acme/support', `CANARY_${i}`, v));
    store.set('acme/support', 'CANARY_0', values[0]! + '-updated');
    store.remove('acme/support', 'CANARY_2');
    // While open, the rows live in the WAL; the names prove the search looks at the right bytes.
    expect(fs.existsSync(file + '-wal')).toBe(true);
    const live = storeBytes(file);
    expect(live.includes(Buffer.from('CANARY_1'))).toBe(true);
    for (const v of [...values, values[0]! + '-updated']) {
      expect(live.includes(Buffer.from(v, 'utf8'))).toBe(false);
      expect(live.includes(Buffer.from(v, 'utf16le'))).toBe(false);
    }
    store.close();
    const after = storeBytes(file);
    expect(after.includes(Buffer.from('CANARY_1'))).toBe(true);
    for (const v of values) expect(after.includes(Buffer.from(v, 'utf8'))).toBe(false);
  });
});

describe('SecretStore.open with a failing key source', () => {
  it('creates nothing on disk', () => {
    const d = tempDir();
    const f = path.join(d, 'data', 'secrets.db');
    expect(() =>
      SecretStore.open(f, () => {
        throw new SecretsError('no secrets key');
      }),
    ).toThrow('no secrets key');
    expect(fs.existsSync(path.join(d, 'data'))).toBe(false);
    fs.rmSync(d, { recursive: true, force: true });
  });
});
