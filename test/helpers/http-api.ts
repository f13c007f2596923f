// The gateway's HTTP server on a real gated, a real warren.db and a real secrets store, without containers: for the
// API's tests and benchmark.
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Db } from '../../core/db.js';
import { silentLogger } from '../../core/log.js';
import { writeKeyFile } from '../../core/secrets/key-source.js';
import { SECRETS_DB, SecretStore } from '../../core/secrets/index.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { Gated } from '../../gated/broker.js';
import { describeTenants } from '../../gated/control.js';
import { GatedStore } from '../../gated/store.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { allRoutes, createHttpApi, listen, type HttpDeps } from '../../gateway/http.js';
import { ApiTokens } from '../../gateway/http/api-tokens.js';
import { Metrics } from '../../gateway/http/metrics.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';
import { OutboxView } from '../../gateway/outbox-view.js';
import { outputBounds } from '../../gateway/live/chunks.js';
import { LiveHub } from '../../gateway/live/hub.js';
import { RunOutputStore } from '../../gateway/live/output-store.js';
import { ReadFacade } from '../../gateway/read/facade.js';
import { TenantFiles } from '../../gateway/read/tenant-files.js';
import { gatewaySecrets, type GatewaySecrets } from '../../gateway/secrets.js';
import { ring } from '../core/secrets/helpers.js';
import type { TempTree } from './tree.js';

export const OPERATOR_TOKEN = 'wop_test-operator-token';

export interface ApiFixture {
  url: string;
  db: Db;
  gated: Gated;
  tokens: ApiTokens;
  deps: HttpDeps;
  routes: ReturnType<typeof allRoutes>;
  /** Runs' live output, on the same warren.db. */
  live: LiveHub;
  stop(): Promise<void>;
}

export async function startApi(tree: TempTree, opts: { secrets?: boolean } = {}): Promise<ApiFixture> {
  const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, db, log: silentLogger(), watch: false });
  let secrets: GatewaySecrets | null = null;
  if (opts.secrets !== false) {
    writeKeyFile(join(tree.data, 'secrets.key'), ring());
    SecretStore.open(join(tree.data, SECRETS_DB), ring()).close();
    secrets = gatewaySecrets(tree.data, silentLogger(), {});
  }
  const outbox = new OutboxView(db);
  const tokens = new ApiTokens(db);
  const liveStore = new RunOutputStore(db, outputBounds({}));
  const live = new LiveHub(liveStore);
  const deps: HttpDeps = {
    token: OPERATOR_TOKEN,
    tokens,
    store: gated.store,
    registry: gated.registry,
    outbox,
    read: ReadFacade.forGated(db, gated, outbox),
    files: new TenantFiles(tree.tenants),
    metrics: new Metrics(db, () => 0, gated.audit.db),
    secrets,
    log: silentLogger(),
    onAccepted: () => undefined,
    activeRuns: () => 0,
    streamPollMs: 20,
    liveOutput: live,
  };
  const server: Server = createHttpApi(deps);
  const address = await listen(server, '127.0.0.1', 0);
  return {
    url: `http://127.0.0.1:${address.port}`,
    db,
    gated,
    tokens,
    deps,
    routes: allRoutes(deps),
    live,
    async stop() {
      live.closeAll();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      secrets?.close();
      await gated.stop();
      db.close();
    },
  };
}

/**
 * The HTTP server's dependencies with nothing behind them but one database: for tests of routes that need only it
 * (live output, the channel routes). The tenant listing and explain have no gated to ask.
 */
export function bareHttpDeps(db: Db, treeDir: string, extra: Partial<HttpDeps> = {}): HttpDeps {
  const registry = extra.registry ?? new TenantRegistry(treeDir, silentLogger());
  const outbox = extra.outbox ?? new OutboxView(db);
  return {
    token: OPERATOR_TOKEN,
    tokens: new ApiTokens(db),
    store: new GatedStore(db),
    registry,
    outbox,
    read: new ReadFacade({
      db,
      auditDb: db,
      outbox,
      tenants: () => describeTenants(registry, () => null, new Map()),
      explain: () => {
        throw new Error('no gated behind this server');
      },
    }),
    files: new TenantFiles(treeDir),
    metrics: new Metrics(db, () => 0),
    secrets: null,
    log: silentLogger(),
    onAccepted: () => undefined,
    activeRuns: () => 0,
    ...extra,
  };
}
