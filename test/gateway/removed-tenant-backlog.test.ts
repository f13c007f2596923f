// Messages for a tenant that left the tree are failed (delegators hear of it) instead of waiting at the head of the
// queue for ever: a retired team's backlog of 200 delegations never stops another world's messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../core/log.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { Gated } from '../../gated/broker.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';
import { acceptMessage } from '../../gateway/inbound.js';
import type { Warren } from '../../gateway/warren.js';
import { callFrame, initialised } from '../helpers/raw-socket.js';
import { standardTree, type TempTree } from '../helpers/tree.js';
import { startWarren } from '../helpers/warren.js';
import { eventually } from '../helpers/wait.js';

const DELEGATIONS = 200;
let tree: TempTree;
let warren: Warren | undefined;

beforeAll(async () => {
  tree = standardTree();
  const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, db, log: silentLogger(), watch: false });
  // Through the tenant's own socket (an operator's client): no per-turn limit on handing work on applies there.
  const c = await initialised(gated.socketPath('acme'));
  for (let i = 1; i <= DELEGATIONS; i++) {
    c.socket.write(callFrame(i, 'delegate_group', { group: 'acme/support', prompt: `ticket ${i}` }));
    const r = await c.response(i);
    expect(JSON.stringify(r.result)).toMatch(/delegated to acme\/support/);
  }
  c.close();
  await gated.stop();
  db.close();
  // The operator retires the support team before its backlog ran.
  rmSync(join(tree.tenants, 'acme', 'support'), { recursive: true, force: true });
}, 120_000);

afterAll(async () => {
  await warren?.stop();
  tree?.cleanup();
});

describe('a removed tenant with a backlog', () => {
  it("does not stop other tenants' messages from ever being scheduled", async () => {
    warren = await startWarren(tree, { http: false, env: { WARREN_AGENT_IMAGE: 'warren-test/missing:0', WARREN_GONE_GRACE_MS: '200' } });
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'globex', text: 'hello?', sender: 'alice' });
    warren.loop.wake();
    const started = await eventually(
      () => (warren!.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE tenant = 'globex'`).get() as { n: number }).n > 0,
      'globex turn to be scheduled',
      15_000,
    ).catch(() => false);
    expect(started).toBe(true);
    const failed = warren.db.prepare(`SELECT COUNT(*) AS n FROM delegations WHERE to_tenant = 'acme/support' AND status = 'failed'`).get() as { n: number };
    expect(failed.n).toBe(DELEGATIONS);
  });
});
