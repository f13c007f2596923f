// How the gateway hands secrets to runs and scrubs them from what leaves: the effective secrets of a tenant go into
// the turn JSON on the container's stdin (never into `docker inspect`, argv or a file), and every value is replaced by
// its name in tool results, turn results and container log lines.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import {
  effectiveSecrets, KEY_ENV, loadKeyring, makeRedactor, SECRETS_DB, SecretStore, type Keyring,
} from '../core/secrets/index.js';

export interface GatewaySecrets {
  /** The run's environment: the tenant's effective secrets, narrowed by PERSONA.md `env:`. Throws when unavailable. */
  forRun(tenant: string, only: readonly string[] | undefined): Record<string, string>;
  /** Replaces every value of the tenant's effective secrets with [secret:NAME]. */
  redactorFor(tenant: string): (text: string) => string;
  /** For the HTTP API: a tenant's own secret names, and setting or removing one (values are never read back). */
  names(tenant: string): string[];
  set(tenant: string, name: string, value: string): void;
  remove(tenant: string, name: string): boolean;
  close(): void;
}

const CACHE_MS = 2000;

/**
 * Secrets for `warren up`. Without a secrets database there is nothing to hand out and nothing to scrub. With one, a
 * missing or bad key makes every run that would need it fail with the key's own message — never a run without them.
 */
export function gatewaySecrets(dataDir: string, log: Logger, env: NodeJS.ProcessEnv = process.env): GatewaySecrets {
  const dbFile = join(dataDir, SECRETS_DB);
  // The key may come from the environment: keep it here and out of process.env, which children would inherit.
  const keyEnv = env[KEY_ENV] ? { [KEY_ENV]: env[KEY_ENV] } : {};
  if (env === process.env) delete process.env[KEY_ENV];
  const keyring = (): Keyring => loadKeyring({ dataDir, env: { ...env, ...keyEnv } });
  let store: SecretStore | null = null;
  let failure: string | null = null;
  const cache = new Map<string, { at: number; version: number; redact: (t: string) => string }>();
  // Every value ever handed to a run of a tenant stays scrubbed for the life of the process, even after the operator
  // replaces or removes it mid-run: the container still holds the value it was given.
  const handedOut = new Map<string, Map<string, string>>(); // tenant -> "NAME\0value" -> name
  let handedOutCount = 0;

  function open(): SecretStore | null {
    if (store) return store;
    if (!existsSync(dbFile)) return null;
    try {
      store = SecretStore.open(dbFile, keyring);
      failure = null;
      return store;
    } catch (error) {
      failure = (error as Error).message;
      log.error({ err: error }, 'secrets are unavailable');
      throw new Error(`secrets are unavailable: ${failure}`);
    }
  }

  /** Changes whenever the store is written (by this process or by `warren secrets` in another). */
  const mtime = (file: string) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const version = () => mtime(dbFile) + mtime(`${dbFile}-wal`);

  return {
    forRun(tenant, only) {
      const s = open();
      if (!s) return {};
      const env = effectiveSecrets(s, tenant, only, { log });
      const seen = handedOut.get(tenant) ?? new Map<string, string>();
      handedOut.set(tenant, seen);
      for (const [name, value] of env) {
        const key = `${name}\0${value}`;
        if (!seen.has(key)) {
          seen.set(key, name);
          handedOutCount++;
        }
      }
      return Object.fromEntries(env);
    },
    redactorFor(tenant) {
      const now = Date.now();
      const hit = cache.get(tenant);
      const v = version() + handedOutCount;
      if (hit && hit.version === v && now - hit.at < CACHE_MS) return hit.redact;
      // One redactor over every value at once (current and handed out), so values that overlap are scrubbed whole.
      const values: [string, string][] = [...(handedOut.get(tenant) ?? new Map<string, string>())].map(
        ([key, name]) => [name, key.slice(name.length + 1)],
      );
      try {
        const s = open();
        if (s) values.push(...effectiveSecrets(s, tenant, undefined, { log }));
      } catch {
        // Unavailable secrets were never handed out, so there is nothing more of them to scrub.
      }
      const redact = makeRedactor(values);
      cache.set(tenant, { at: now, version: v, redact });
      return redact;
    },
    names(tenant) {
      return (open()?.list(tenant) ?? []).map((s) => s.name);
    },
    set(tenant, name, value) {
      const s = open();
      if (!s) throw new Error('no secrets store on this DATA folder (warren secrets init)');
      s.set(tenant, name, value);
    },
    remove(tenant, name) {
      return open()?.remove(tenant, name) ?? false;
    },
    close() {
      store?.close();
      store = null;
    },
  };
}
