// One turn cannot flood the queue: it may hand on at most 10 pieces of work, and waiting topics get container slots
// world by world (least loaded first), so a busy world's backlog never holds every slot while another world waits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const FLOOD = 10; // MAX_HANDOFFS_PER_RUN
const SLOTS = 2;
let tree: TempTree;
let warren: Warren | undefined;

beforeAll(async () => {
  tree = standardTree();
  // Before warren is up: one run of acme/support escalates FLOOD times, then globex gets a message from a person.
  const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, db, log: silentLogger(), watch: false });
  const sock = await gated.openRunSocket('acme/support', { id: 'flood', topic: 'main', chat: 'tg:1', depth: 0 });
  const c = await initialised(sock.socketPath);
  for (let i = 1; i <= FLOOD; i++) {
    c.socket.write(callFrame(i, 'escalate_group', { prompt: `please look at case ${i}` }));
    const r = await c.response(i);
    expect(r.error).toBeUndefined();
    expect(JSON.stringify(r.result)).toMatch(/escalated to acme/);
  }
  c.socket.write(callFrame(99, 'escalate_group', { prompt: 'one more' }));
  expect(JSON.stringify((await c.response(99)).result)).toMatch(/already handed on 10 pieces of work/);
  c.close();
  await sock.close();
  acceptMessage(gated.store, gated.registry, { tenant: 'globex', text: 'my order is late', sender: 'alice' });
  await gated.stop();
  db.close();
}, 120_000);

afterAll(async () => {
  await warren?.stop();
  tree?.cleanup();
});

describe('queue fairness across worlds', () => {
  it("another world's message gets one of the first container slots despite a flood of escalations", async () => {
    // A missing image makes every turn fail at once (no container, no pull): only the scheduling order matters here.
    warren = await startWarren(tree, { http: false, env: { WARREN_AGENT_IMAGE: 'warren-test/missing:0', MAX_CONCURRENT_CONTAINERS: String(SLOTS) } });
    await eventually(
      () => (warren!.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE tenant = 'globex'`).get() as { n: number }).n > 0,
      'a run for globex',
    );
    const order = (warren.db.prepare(`SELECT tenant FROM runs ORDER BY rowid`).all() as { tenant: string }[]).map((r) => r.tenant);
    const globexAt = order.indexOf('globex');
    // Fair share: with SLOTS slots and two worlds waiting, globex should be among the first SLOTS turns started.
    expect(globexAt).toBeGreaterThanOrEqual(0);
    expect(globexAt).toBeLessThan(SLOTS);
  });
});
