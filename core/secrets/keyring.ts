// The master keys in memory, and the pure parts of getting them: parsing and writing the key file format, parsing
// the WARREN_SECRETS_KEY value, and judging key file permissions. File and environment I/O is in key-source.ts.
//
// Key file (JSON, mode 0600):
//   { "format": "warren-secrets-key", "version": 1, "current": "k-…",
//     "keys": [ { "id": "k-…", "key": "<base64 of 32 bytes>", "created": "<ISO time>" } ] }
// More than one key only while a rotation is in progress.
import { KEY_BYTES, generateKey, keyIdOf } from './crypto.js';
import { SecretsError } from './errors.js';

export const KEY_FILE_FORMAT = 'warren-secrets-key';
export const KEY_FILE_VERSION = 1;
/** A key file is a few hundred bytes; anything much larger is not one. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;
const MAX_KEYS = 8;
const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;

export type KeySource = { kind: 'file'; file: string } | { kind: 'env'; variable: string };

export interface KeyEntry {
  id: string;
  key: Buffer;
  created: string;
}

export interface Keyring {
  /** The key new values are sealed with. */
  current: string;
  /** Every key that may open a stored value, by id. */
  keys: ReadonlyMap<string, KeyEntry>;
  source: KeySource;
}

export function describeSource(source: KeySource): string {
  return source.kind === 'file' ? `key file ${source.file}` : `$${source.variable}`;
}

/** The current key (always present in a well-formed keyring). */
export function currentKey(ring: Keyring): KeyEntry {
  const entry = ring.keys.get(ring.current);
  if (!entry) throw new SecretsError(`${describeSource(ring.source)} does not hold its current key ${ring.current}`);
  return entry;
}

export function newKeyEntry(now: Date = new Date()): KeyEntry {
  const key = generateKey();
  return { id: keyIdOf(key), key, created: now.toISOString() };
}

export function makeKeyring(entries: KeyEntry[], current: string, source: KeySource): Keyring {
  const keys = new Map<string, KeyEntry>();
  for (const e of entries) keys.set(e.id, e);
  if (!keys.has(current)) throw new SecretsError(`current key ${current} is not among the keys`);
  return { current, keys, source };
}

/** Parses the text of a key file; every problem names the file and says what to do. */
export function parseKeyFile(text: string, file: string): Keyring {
  const bad = (what: string): SecretsError =>
    new SecretsError(
      `key file ${file} is malformed: ${what}. Restore it from your backup; warren never guesses a key ` +
        `(only if no secrets were ever stored with it: delete it and run "warren secrets init")`,
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw bad('not a JSON object');
  if (doc.format !== KEY_FILE_FORMAT) throw bad(`"format" must be "${KEY_FILE_FORMAT}"`);
  if (doc.version !== KEY_FILE_VERSION) throw bad(`unsupported "version" ${JSON.stringify(doc.version)} (this warren reads ${KEY_FILE_VERSION})`);
  if (typeof doc.current !== 'string') throw bad('"current" must be a key id');
  if (!Array.isArray(doc.keys) || doc.keys.length === 0) throw bad('"keys" must be a non-empty list');
  if (doc.keys.length > MAX_KEYS) throw bad(`more than ${MAX_KEYS} keys`);
  const entries: KeyEntry[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of doc.keys.entries()) {
    if (!isObject(raw)) throw bad(`keys[${i}] is not an object`);
    if (typeof raw.id !== 'string') throw bad(`keys[${i}].id must be a string`);
    if (typeof raw.key !== 'string' || !BASE64_32.test(raw.key)) {
      throw bad(`keys[${i}].key must be the base64 of exactly ${KEY_BYTES} bytes`);
    }
    const key = Buffer.from(raw.key, 'base64');
    // The id is derived from the key, so a mismatch means the file was edited or corrupted.
    if (keyIdOf(key) !== raw.id) throw bad(`keys[${i}]: id ${raw.id} does not match its key`);
    if (seen.has(raw.id)) throw bad(`key ${raw.id} is listed twice`);
    seen.add(raw.id);
    entries.push({ id: raw.id, key, created: typeof raw.created === 'string' ? raw.created : '' });
  }
  if (!seen.has(doc.current)) throw bad(`"current" ${doc.current} is not one of the listed keys`);
  return makeKeyring(entries, doc.current, { kind: 'file', file });
}

export function serializeKeyFile(ring: Keyring): string {
  const doc = {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    current: ring.current,
    keys: [...ring.keys.values()].map((e) => ({ id: e.id, key: e.key.toString('base64'), created: e.created })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** Parses WARREN_SECRETS_KEY: the base64 of exactly 32 bytes (surrounding whitespace ignored). */
export function parseEnvKey(value: string, variable: string): Keyring {
  const text = value.trim();
  if (!BASE64_32.test(text)) {
    const decoded = /^[A-Za-z0-9+/]*={0,2}$/.test(text) ? Buffer.from(text, 'base64').length : -1;
    const what = decoded < 0 ? 'is not base64' : `decodes to ${decoded} bytes`;
    throw new SecretsError(
      `$${variable} ${what}; it must be the base64 of exactly ${KEY_BYTES} random bytes ` +
        `(the "key" of your key file, or: head -c ${KEY_BYTES} /dev/urandom | base64)`,
    );
  }
  const key = Buffer.from(text, 'base64');
  const id = keyIdOf(key);
  return makeKeyring([{ id, key, created: '' }], id, { kind: 'env', variable });
}

/**
 * Why a key file with this mode and owner must not be used, or null when it may. The key file is the whole secret:
 * a group- or world-readable one, or one another user controls, is refused rather than trusted.
 */
export function keyFilePermissionProblem(file: string, stat: { mode: number; uid: number }, uid: number | undefined): string | null {
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(3, '0');
    return `key file ${file} has mode ${mode}: group/other may not have any access. Run: chmod 600 ${file}`;
  }
  if (uid !== undefined && stat.uid !== uid) {
    return `key file ${file} is owned by uid ${stat.uid}, not by the user running warren (uid ${uid}). ` +
      `Run warren as its owner, or: chown $(id -u) ${file}`;
  }
  return null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
