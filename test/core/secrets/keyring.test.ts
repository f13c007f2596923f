import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { keyIdOf } from '../../../core/secrets/crypto.js';
import { SecretsError } from '../../../core/secrets/errors.js';
import {
  keyFilePermissionProblem,
  makeKeyring,
  newKeyEntry,
  parseEnvKey,
  parseKeyFile,
  serializeKeyFile,
} from '../../../core/secrets/keyring.js';

const F = '/data/secrets.key';

function doc(over: Record<string, unknown> = {}): string {
  const key = randomBytes(32);
  const id = keyIdOf(key);
  return JSON.stringify({ format: 'warren-secrets-key', version: 1, current: id, keys: [{ id, key: key.toString('base64'), created: 'now' }], ...over });
}

describe('key file format', () => {
  it('round-trips one and two keys', () => {
    const a = newKeyEntry();
    const b = newKeyEntry();
    const ring = makeKeyring([a, b], b.id, { kind: 'file', file: F });
    const back = parseKeyFile(serializeKeyFile(ring), F);
    expect(back.current).toBe(b.id);
    expect([...back.keys.keys()]).toEqual([a.id, b.id]);
    expect(back.keys.get(a.id)!.key.equals(a.key)).toBe(true);
    expect(back.source).toEqual({ kind: 'file', file: F });
  });

  const good = JSON.parse(doc());
  const k = good.keys[0];
  it.each([
    ['not JSON', '{nope', /not JSON/],
    ['an array', '[]', /not a JSON object/],
    ['wrong format', doc({ format: 'other' }), /"format"/],
    ['a future version', doc({ version: 2 }), /unsupported "version" 2/],
    ['no keys', doc({ keys: [] }), /non-empty/],
    ['a short key', doc({ keys: [{ ...k, key: randomBytes(16).toString('base64') }] }), /exactly 32 bytes/],
    ['a long key', doc({ keys: [{ ...k, key: randomBytes(33).toString('base64') }] }), /exactly 32 bytes/],
    ['a non-base64 key', doc({ keys: [{ ...k, key: '!'.repeat(43) + '=' }] }), /exactly 32 bytes/],
    ['an id not matching its key', JSON.stringify({ ...good, keys: [{ ...k, id: 'k-0000000000000000' }], current: 'k-0000000000000000' }), /does not match/],
    ['a duplicate key', JSON.stringify({ ...good, keys: [k, k] }), /twice/],
    ['a current key not listed', JSON.stringify({ ...good, current: 'k-ffffffffffffffff' }), /not one of the listed/],
  ])('refuses %s with the file name and what to do', (_what, text, why) => {
    let err: unknown;
    try {
      parseKeyFile(text, F);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecretsError);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toContain(F);
    expect((err as Error).message).toMatch(/backup/);
  });
});

describe('parseEnvKey', () => {
  it('accepts the base64 of 32 bytes, whitespace-trimmed, and derives the id', () => {
    const key = randomBytes(32);
    const ring = parseEnvKey(`  ${key.toString('base64')}\n`, 'WARREN_SECRETS_KEY');
    expect(ring.current).toBe(keyIdOf(key));
    expect(ring.keys.get(ring.current)!.key.equals(key)).toBe(true);
    expect(ring.source).toEqual({ kind: 'env', variable: 'WARREN_SECRETS_KEY' });
  });
  it.each([
    ['short', randomBytes(16).toString('base64'), /decodes to 16 bytes/],
    ['long', randomBytes(48).toString('base64'), /decodes to 48 bytes/],
    ['empty', '', /decodes to 0 bytes/],
    ['not base64', 'this is not a key!', /is not base64/],
  ])('refuses a %s value', (_what, value, why) => {
    expect(() => parseEnvKey(value, 'WARREN_SECRETS_KEY')).toThrow(why);
  });
});

describe('keyFilePermissionProblem', () => {
  it.each([
    [0o100600, 1000, 1000, null],
    [0o100400, 1000, 1000, null],
    [0o100640, 1000, 1000, /mode 640.*chmod 600/],
    [0o100604, 1000, 1000, /mode 604/],
    [0o100610, 1000, 1000, /mode 610/],
    [0o100600, 0, 1000, /owned by uid 0/],
    [0o100600, 1000, 0, /owned by uid 1000/],
  ])('mode %o owner %i as uid %i', (mode, owner, uid, expected) => {
    const p = keyFilePermissionProblem(F, { mode, uid: owner }, uid);
    if (expected === null) expect(p).toBeNull();
    else expect(p).toMatch(expected);
  });
});
