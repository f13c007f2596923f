// A value handed to a run stays scrubbed after the operator replaces or removes it mid-run (the usual way to rotate
// a leaked credential): the container still holds it, so replies, messages and results must not carry it.
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

describe('redaction of a secret changed during a run', () => {
  it.each([
    ['replaced', (s: SecretStore) => void s.set('acme', 'API_TOKEN', 'sk-new-0000000000')],
    ['removed', (s: SecretStore) => void s.remove('acme', 'API_TOKEN')],
  ])('the value a running container holds is still scrubbed after it is %s', (_how, change) => {
    const keyFile = join(data, 'secrets.key');
    rmSync(join(data, SECRETS_DB), { force: true });
    rmSync(keyFile, { force: true });
    writeKeyFile(keyFile, ring());
    const store = SecretStore.open(join(data, SECRETS_DB), () => readKeyFile(keyFile));
    store.set('acme', 'API_TOKEN', 'sk-old-1111111111');
    const gw = gatewaySecrets(data, silentLogger(), {});
    try {
      const handedOut = gw.forRun('acme', undefined); // turn start: goes into the container's stdin
      expect(handedOut.API_TOKEN).toBe('sk-old-1111111111');
      change(store); // `warren secrets set|rm` while the turn runs
      const scrub = gw.redactorFor('acme'); // what commit() and gated use afterwards
      expect(scrub('here it is: sk-old-1111111111, the rest stays')).toBe('here it is: [secret:API_TOKEN], the rest stays');
    } finally {
      gw.close();
      store.close();
    }
  });
});
