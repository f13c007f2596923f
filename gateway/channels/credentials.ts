// Channel credentials for `warren up`: a world's bot token, opened from DATA/secrets.db when an adapter starts. They
// are the gateway's own: sealed beside tenant secrets under the same key but in their own table, so the path that
// builds a run's environment (gateway/secrets.ts) cannot reach them. A missing or unreadable credential means the
// adapter is not started (fail closed), and the reason is logged without the value.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../core/log.js';
import { loadKeyring, SECRETS_DB, SecretStore, type CredentialInfo, type KeyOptions } from '../../core/secrets/index.js';

export interface ChannelCredentials {
  /** The world's credential, or null when it has none or it cannot be opened (logged). */
  credentialFor(world: string, name: string): string | null;
  /** Worlds with a stored credential of this name. */
  worldsWith(name: string): string[];
  close(): void;
}

export function channelCredentials(dataDir: string, log: Logger, keys: Omit<KeyOptions, 'dataDir'> = {}): ChannelCredentials {
  const dbFile = join(dataDir, SECRETS_DB);
  let store: SecretStore | null = null;
  const open = (): SecretStore | null => {
    if (store) return store;
    if (!existsSync(dbFile)) return null;
    try {
      store = SecretStore.open(dbFile, () => loadKeyring({ dataDir, ...keys }));
      return store;
    } catch (error) {
      log.error({ error: (error as Error).message }, 'channel credentials are unavailable');
      return null;
    }
  };
  return {
    credentialFor(world, name) {
      try {
        return open()?.getCredential(world, name) ?? null;
      } catch (error) {
        log.error({ world, credential: name, error: (error as Error).message }, 'cannot open a channel credential');
        return null;
      }
    },
    worldsWith(name) {
      const list: CredentialInfo[] = open()?.listCredentials() ?? [];
      return list.filter((c) => c.name === name).map((c) => c.world);
    },
    close() {
      store?.close();
      store = null;
    },
  };
}
