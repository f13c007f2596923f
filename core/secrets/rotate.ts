// Key rotation: move every stored value to a fresh key without ever having a moment where a value cannot be opened.
//   1. write the key file with the old key and the new one, the new one current   (atomic replace)
//   2. re-seal every row under the new key and bind the store to it                  (one transaction)
//   3. write the key file with only the new key                                       (atomic replace)
// Rows name their key id, so the mixed states between steps open fine. A key file holding more than one key means
// a rotation was interrupted: running rotate again finishes that one instead of starting another.
// Steps 1-2 and step 3 each run holding the database write lock, and re-read the key file under it: two rotations
// started at once serialise instead of overwriting each other's key file (which could drop a key rows still use).
import { SecretsError } from './errors.js';
import { currentKey, makeKeyring, newKeyEntry } from './keyring.js';
import { readKeyFile, writeKeyFile } from './key-source.js';
import { SecretStore } from './store.js';

export type RotationStep = 'key-file-both' | 'resealed' | 'key-file-new';

export interface RotateOptions {
  keyFile: string;
  dbFile: string;
  now?: Date;
  /** Test hooks simulating a crash: throw from any of them to stop the rotation at that point. */
  hooks?: {
    /** After a step is durable. */
    afterStep?: (step: RotationStep) => void;
    /** After each row is re-sealed, inside the step-2 transaction. */
    onRow?: (index: number) => void;
    /** Before a key file write is committed (temp file written, not yet renamed). */
    beforeKeyFileCommit?: (step: 'key-file-both' | 'key-file-new') => void;
  };
}

export interface RotateResult {
  /** Key ids that were in use before. */
  from: string[];
  /** The key every value is now sealed under. */
  to: string;
  resealed: number;
  /** True when this run finished an interrupted rotation instead of starting a new one. */
  resumed: boolean;
}

export function rotate(opts: RotateOptions): RotateResult {
  const hooks = opts.hooks ?? {};
  const load = () => readKeyFile(opts.keyFile);
  const store = SecretStore.open(opts.dbFile, load);
  try {
    const step12 = store.exclusive(() => {
      let ring = load();
      store.check(ring);
      const bound = store.boundKeyId();
      const from = [...new Set([...store.keyUsage().keys(), ...(bound ? [bound] : [])])].sort();
      const resumed = ring.keys.size > 1;
      if (!resumed) {
        const fresh = newKeyEntry(opts.now);
        ring = makeKeyring([...ring.keys.values(), fresh], fresh.id, ring.source);
        writeKeyFile(opts.keyFile, ring, { beforeCommit: () => hooks.beforeKeyFileCommit?.('key-file-both') });
        hooks.afterStep?.('key-file-both');
      }
      const resealed = store.reseal({ keyring: ring, onRow: hooks.onRow });
      return { from, resumed, resealed, target: currentKey(ring) };
    });
    hooks.afterStep?.('resealed');

    const { target } = step12;
    store.exclusive(() => {
      // Only drop the old keys once nothing refers to them; a writer holding a stale keyring is refused by the binding.
      const ring = load();
      const stale = [...store.keyUsage().keys()].filter((id) => id !== target.id);
      if (ring.current !== target.id || stale.length > 0 || store.boundKeyId() !== target.id) {
        throw new SecretsError(`rotation could not finish (the key file or the store changed meanwhile); run "warren secrets rotate" again`);
      }
      writeKeyFile(opts.keyFile, makeKeyring([target], target.id, ring.source), {
        beforeCommit: () => hooks.beforeKeyFileCommit?.('key-file-new'),
      });
    });
    hooks.afterStep?.('key-file-new');
    return { from: step12.from, to: target.id, resealed: step12.resealed, resumed: step12.resumed };
  } finally {
    store.close();
  }
}
