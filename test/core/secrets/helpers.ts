// Shared fixtures for the secrets tests: temp dirs and keyrings.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeKeyring, newKeyEntry, type Keyring, type KeyEntry } from '../../../core/secrets/keyring.js';

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'warren-'));
}

export function ring(...entries: KeyEntry[]): Keyring {
  const list = entries.length > 0 ? entries : [newKeyEntry()];
  return makeKeyring(list, list[list.length - 1]!.id, { kind: 'file', file: '/test/secrets.key' });
}

/** Every byte of the store's files (db, -wal, -shm), for "never in plaintext" checks. */
export function storeBytes(dbFile: string): Buffer {
  return Buffer.concat(['', '-wal', '-shm'].filter((s) => fs.existsSync(dbFile + s)).map((s) => fs.readFileSync(dbFile + s)));
}
