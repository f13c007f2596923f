// Starts a whole warren (gated + gateway, real Docker) on a temp tree for end-to-end tests.
import { silentLogger } from '../../core/log.js';
import { startWarren as startWithEgress } from '../../cli/start-warren.js';
import type { Warren, WarrenOptions } from '../../gateway/warren.js';
import type { OutboxRow } from '../../gateway/outbox-view.js';
import { agentImage, requireDocker } from './docker.js';
import type { TempTree } from './tree.js';

export async function startWarren(tree: TempTree, extra: Partial<WarrenOptions> & { env?: NodeJS.ProcessEnv } = {}): Promise<Warren> {
  const docker = await requireDocker();
  const image = await agentImage();
  return startWithEgress({
    tenantsDir: tree.tenants,
    dataDir: tree.data,
    log: silentLogger(),
    docker,
    ...extra,
    env: {
      WARREN_HTTP_PORT: '0',
      WARREN_WEB_PORT: '0',
      WARREN_AGENT_IMAGE: image.tag,
      WARREN_INSTANCE: `test-${process.pid}-${Math.floor(Math.random() * 1e6)}`,
      WARREN_POLL_MS: '50',
      ...extra.env,
    },
  });
}

/** Waits until the tenant's committed outbox holds a row matching `predicate`. */
export async function waitForOutbox(
  warren: Warren,
  tenant: string,
  predicate: (row: OutboxRow) => boolean,
  timeoutMs = 60_000,
): Promise<OutboxRow> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const row = warren.outbox.list(tenant, { limit: 1000 }).find(predicate);
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seen = warren.outbox.list(tenant, { limit: 1000 }).map((r) => r.text);
  throw new Error(`no outbox row for ${tenant} matched within ${timeoutMs} ms; rows: ${JSON.stringify(seen)}`);
}
