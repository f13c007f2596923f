// Sealing and opening one secret value: AES-256-GCM with a fresh 12-byte random nonce per seal. Pure apart from the
// random nonce; no I/O. The associated data binds the ciphertext to (format version, tenant, name, key id) with a
// length-prefixed encoding, so a sealed value copied to another row, tenant or key id fails authentication instead of
// opening as something it is not.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { SecretsError } from './errors.js';

export const FORMAT_VERSION = 1;
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

const ALGORITHM = 'aes-256-gcm';
const AAD_LABEL = 'warren-secrets/aad';
const KEY_ID_LABEL = 'warren-secrets/key-id/v1';

/** One sealed value as stored: every part separately, nothing implied. */
export interface Sealed {
  version: number;
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/**
 * The id of a key, derived from the key itself: "k-" and 16 hex digits of HMAC-SHA256(key, label). Because it is a
 * function of the key it doubles as the per-key check value: a wrong key has a different id, so "rows sealed under
 * k-… but the key given is k-…" is detected before any decryption is attempted. 64 bits reveal nothing usable about
 * the key and make an accidental match negligible.
 */
export function keyIdOf(key: Buffer): string {
  assertKey(key);
  return 'k-' + createHmac('sha256', key).update(KEY_ID_LABEL).digest('hex').slice(0, 16);
}

export function generateKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Canonical associated data: a label, then each field as a 4-byte big-endian length and its UTF-8 bytes. */
export function associatedData(version: number, tenant: string, name: string, keyId: string): Buffer {
  const parts = [AAD_LABEL, String(version), tenant, name, keyId].map((s) => Buffer.from(s, 'utf8'));
  const out: Buffer[] = [];
  for (const p of parts) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    out.push(len, p);
  }
  return Buffer.concat(out);
}

export function seal(key: Buffer, keyId: string, tenant: string, name: string, plaintext: string): Sealed {
  assertKey(key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(FORMAT_VERSION, tenant, name, keyId));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { version: FORMAT_VERSION, keyId, nonce, ciphertext, tag: cipher.getAuthTag() };
}

/** Opens a sealed value for (tenant, name) with the key named by `sealed.keyId`; throws SecretsError if it does not. */
export function open(key: Buffer, tenant: string, name: string, sealed: Sealed): string {
  assertKey(key);
  const where = `secret ${name} of ${tenant}`;
  if (sealed.version !== FORMAT_VERSION) {
    throw new SecretsError(`${where} has format version ${sealed.version}; this warren reads only version ${FORMAT_VERSION}`);
  }
  if (sealed.nonce.length !== NONCE_BYTES || sealed.tag.length !== TAG_BYTES) {
    throw new SecretsError(`${where} is corrupted (bad nonce or tag length)`);
  }
  const decipher = createDecipheriv(ALGORITHM, key, sealed.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(associatedData(sealed.version, tenant, name, sealed.keyId));
  decipher.setAuthTag(sealed.tag);
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    throw new SecretsError(
      `${where} failed authentication: it was tampered with, moved from another row, or the key ${sealed.keyId} is wrong`,
    );
  }
  return plain.toString('utf8');
}

function assertKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new SecretsError(`a secrets key must be exactly ${KEY_BYTES} bytes`);
  }
}
