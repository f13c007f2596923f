import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_USER } from '../../core/container.js';
import { CRACKBOX_MAIN, bundleCrackboxNode, crackboxImageTag, crackboxImportChanges } from '../../images/crackbox.js';
import { warrenVersion } from '../../images/build.js';

describe('the crackbox image of the Swarm egress', () => {
  it('is tagged per warren version and runs the bundled node process as the unprivileged user', () => {
    expect(crackboxImageTag()).toBe(`warren/crackbox:${warrenVersion()}`);
    const changes = crackboxImportChanges({ version: '1.2.3', node: 'v20.0.0' });
    expect(changes).toContain(`USER ${AGENT_USER}`);
    expect(changes).toContain(`ENTRYPOINT ["/usr/local/bin/node","${CRACKBOX_MAIN}"]`);
    expect(changes.at(-1)).toMatch(/^LABEL warren.image=crackbox warren.version=1.2.3 /);
  });

  it('bundles into one file that runs without node_modules, and refuses a snapshot it cannot parse', async () => {
    // Outside the checkout: nothing can be found in a node_modules on the way up.
    const dir = mkdtempSync(join(tmpdir(), 'warren-crackbox-bundle-'));
    try {
      const main = join(dir, 'main.js');
      await bundleCrackboxNode(main);
      expect(readFileSync(join(dir, 'package.json'), 'utf8')).toContain('commonjs');
      const snapshot = join(dir, 'snapshot.json');
      writeFileSync(snapshot, JSON.stringify({ version: 1, tenants: {}, networks: 'nope' }));
      const r = spawnSync(process.execPath, [main], { env: { CRACKBOX_SNAPSHOT: snapshot, WARREN_LOG_FORMAT: 'json' }, encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('egress snapshot: networks: must be a list');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
