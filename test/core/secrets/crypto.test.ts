import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import { associatedData, generateKey, keyIdOf, open, seal, KEY_BYTES, NONCE_BYTES, TAG_BYTES, type Sealed } from '../../../core/secrets/crypto.js';
import { SecretsError } from '../../../core/secrets/errors.js';

const key = generateKey();
const keyId = keyIdOf(key);

function flip(buf: Buffer, bit = 0): Buffer {
  const out = Buffer.from(buf);
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7));
  return out;
}

describe('seal/open', () => {
  it('round-trips text, including unicode and long values', () => {
    for (const value of ['sk-live-abc123', 'ünïcødé 🔑 value', 'x'.repeat(60_000), 'line1\nline2']) {
      const s = seal(key, keyId, 'acme/support', 'API_KEY', value);
      expect(open(key, 'acme/support', 'API_KEY', s)).toBe(value);
    }
  });

  it('produces the documented shapes and a fresh nonce every time', () => {
    const a = seal(key, keyId, 'acme', 'A', 'same value');
    const b = seal(key, keyId, 'acme', 'A', 'same value');
    expect(a.nonce.length).toBe(NONCE_BYTES);
    expect(a.tag.length).toBe(TAG_BYTES);
    expect(a.version).toBe(1);
    expect(a.keyId).toBe(keyId);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.ciphertext.includes(Buffer.from('same value'))).toBe(false);
  });

  const base = seal(key, keyId, 'acme/support', 'API_KEY', 'the-secret-value');
  const tampered: [string, Sealed, string, string][] = [
    ['nonce bit flipped', { ...base, nonce: flip(base.nonce, 5) }, 'acme/support', 'API_KEY'],
    ['ciphertext bit flipped', { ...base, ciphertext: flip(base.ciphertext, 17) }, 'acme/support', 'API_KEY'],
    ['tag bit flipped', { ...base, tag: flip(base.tag, 127) }, 'acme/support', 'API_KEY'],
    ['ciphertext truncated', { ...base, ciphertext: base.ciphertext.subarray(1) }, 'acme/support', 'API_KEY'],
    ['moved to another name', base, 'acme/support', 'OTHER_KEY'],
    ['moved to another tenant', base, 'acme', 'API_KEY'],
    ['moved to a sibling tenant', base, 'acme/sales', 'API_KEY'],
    ['key id changed', { ...base, keyId: 'k-0000000000000000' }, 'acme/support', 'API_KEY'],
  ];
  it.each(tampered)('refuses a value with %s', (_what, sealed, tenant, name) => {
    expect(() => open(key, tenant, name, sealed)).toThrow(SecretsError);
  });

  it('refuses the wrong key', () => {
    expect(() => open(generateKey(), 'acme/support', 'API_KEY', base)).toThrow(/failed authentication/);
  });

  it('refuses unknown format versions and bad lengths before decrypting', () => {
    expect(() => open(key, 'acme/support', 'API_KEY', { ...base, version: 2 })).toThrow(/format version 2/);
    expect(() => open(key, 'acme/support', 'API_KEY', { ...base, tag: base.tag.subarray(0, 12) })).toThrow(/corrupted/);
    expect(() => open(key, 'acme/support', 'API_KEY', { ...base, nonce: randomBytes(16) })).toThrow(/corrupted/);
  });

  it('refuses keys of the wrong length', () => {
    expect(() => seal(randomBytes(16), 'k-x', 't', 'N', 'v')).toThrow(/exactly 32 bytes/);
    expect(() => keyIdOf(randomBytes(KEY_BYTES + 1))).toThrow(SecretsError);
  });
});

describe('associatedData', () => {
  it('is unambiguous where naive concatenation is not', () => {
    // "acme" + "/xNAME" vs "acme/x" + "NAME": concatenation would collide, length prefixes do not.
    expect(associatedData(1, 'a', 'bc', 'k').equals(associatedData(1, 'ab', 'c', 'k'))).toBe(false);
    expect(associatedData(1, 'acme', 'A', 'k-1').equals(associatedData(1, 'acme', 'A', 'k-1'))).toBe(true);
  });
});

describe('keyIdOf', () => {
  it('is stable for a key and differs between keys', () => {
    expect(keyIdOf(key)).toBe(keyId);
    expect(keyId).toMatch(/^k-[0-9a-f]{16}$/);
    expect(keyIdOf(generateKey())).not.toBe(keyId);
  });
});
