import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_USER } from '../../core/container.js';
import {
  BUNDLE_LABEL,
  CRACKBOX_MAIN,
  bundleCrackboxNode,
  bundleDigest,
  crackboxImageTag,
  crackboxImportChanges,
  ensureCrackboxImage,
} from '../../images/crackbox.js';
import { agentImage, requireDocker } from '../helpers/docker.js';
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
      writeFileSync(snapshot, JSON.stringify({ version: 2, tenants: {}, networks: 'nope' }));
      const r = spawnSync(process.execPath, [main], { env: { CRACKBOX_SNAPSHOT: snapshot, WARREN_LOG_FORMAT: 'json' }, encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('egress snapshot: networks: must be a list');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('an image under the tag with another bundle than this checkout’s is rebuilt; the same bundle is reused', async () => {
    const docker = await requireDocker();
    const tag = `warren/crackbox:test-ensure-${process.pid}`;
    // Another image under the crackbox tag: what an older build of the same version looks like to the tag.
    const stale = (await agentImage()).tag;
    const [repo, version] = tag.split(':') as [string, string];
    await docker.getImage(stale).tag({ repo, tag: version });
    try {
      const staleId = (await docker.getImage(tag).inspect()).Id;
      const built = await ensureCrackboxImage({ docker, tag });
      expect(built.id).not.toBe(staleId);
      const labels = ((await docker.getImage(tag).inspect()) as { Config: { Labels: Record<string, string> } }).Config.Labels;
      const dir = mkdtempSync(join(tmpdir(), 'warren-crackbox-bundle-'));
      try {
        await bundleCrackboxNode(join(dir, 'main.js'));
        expect(labels[BUNDLE_LABEL]).toBe(bundleDigest(join(dir, 'main.js')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect((await ensureCrackboxImage({ docker, tag })).id).toBe(built.id);
    } finally {
      await docker.getImage(tag).remove().catch(() => undefined);
    }
  }, 180_000);
});
