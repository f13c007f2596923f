// A value rotated mid-run is scrubbed whole even when the new value overlaps it: one redactor covers every value
// at once, so no character of any occurrence survives.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { silentLogger } from '../../core/log.js';
import { readKeyFile, writeKeyFile } from '../../core/secrets/key-source.js';
import { SecretStore, SECRETS_DB } from '../../core/secrets/index.js';
import { gatewaySecrets } from '../../gateway/secrets.js';
import { ring, tempDir } from '../core/secrets/helpers.js';

const data = tempDir();
afterAll(() => rmSync(data, { recursive: true, force: true }));

describe('redaction after a rotation', () => {
  it.each([
    ['the new value is part of the old one', 'tok-7f3a9c21-e8b4d610', 'tok-7f3a9c21', 'leaked: tok-7f3a9c21-e8b4d610'],
    ['the new value overlaps the old one', 'AAAA1111BBBB2222', 'BBBB2222CCCC3333', 'leaked: AAAA1111BBBB2222CCCC3333'],
  ])('leaves no character of the handed-out value when %s', (_case, oldValue, newValue, text) => {
    const keyFile = join(data, 'secrets.key');
    rmSync(join(data, SECRETS_DB), { force: true });
    rmSync(keyFile, { force: true });
    writeKeyFile(keyFile, ring());
    const store = SecretStore.open(join(data, SECRETS_DB), () => readKeyFile(keyFile));
    store.set('acme', 'API_TOKEN', oldValue);
    const gw = gatewaySecrets(data, silentLogger(), {});
    try {
      gw.forRun('acme', undefined); // the running container holds oldValue
      store.set('acme', 'API_TOKEN', newValue); // rotated mid-run
      const out = gw.redactorFor('acme')(text);
      // Every secret character is gone: only the prefix and placeholders remain.
      expect(out.replace(/\[secret:[A-Z_]+\]/g, '')).toBe('leaked: ');
    } finally {
      gw.close();
      store.close();
    }
  });
});
