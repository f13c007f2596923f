// A real gateway HTTP server with the web-facing channels mounted, on a real warren.db and tenant tree. Until the
// channel router lands, the inbound sink stores through gateway/inbound.ts acceptMessage, routing each chat to the
// tenant the test wires it to.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Db } from '../../../core/db.js';
import { silentLogger } from '../../../core/log.js';
import type { TenantPath } from '../../../core/tenant-path.js';
import { TenantRegistry } from '../../../core/tree/registry.js';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { mintToken, webhookTarget, type MintedToken } from '../../../gated/tools/tokens.js';
import type { InboundEvent, InboundOutcome, InboundSink } from '../../../gateway/channels/adapter.js';
import { channelRoutes } from '../../../gateway/channels/http-routes.js';
import { WebChatAdapter } from '../../../gateway/channels/web.js';
import { WebhookAdapter } from '../../../gateway/channels/webhook.js';
import { createHttpApi, listen } from '../../../gateway/http.js';
import { bareHttpDeps } from '../../helpers/http-api.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { OutboxView } from '../../../gateway/outbox-view.js';
import { standardTree, type TempTree } from '../../helpers/tree.js';

export interface ChannelServer {
  tree: TempTree;
  db: Db;
  store: GatedStore;
  webhook: WebhookAdapter;
  web: WebChatAdapter;
  /** chat id -> tenant: what the sink routes to. */
  wiring: Map<string, TenantPath>;
  received: InboundEvent[];
  url: string;
  hook(tenant: TenantPath, name: string, opts?: { ttlS?: number; hmac?: boolean }): MintedToken;
  chatLink(tenant: TenantPath, chat: string, ttlS?: number): MintedToken;
  close(): Promise<void>;
}

export async function startChannelServer(opts: { rate?: { burst: number; perSecond: number }; pollMs?: number } = {}): Promise<ChannelServer> {
  const tree = standardTree();
  const log = silentLogger();
  const registry = new TenantRegistry(tree.tenants, log);
  registry.loadAll();
  const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  const store = new GatedStore(db);
  const outbox = new OutboxView(db);
  const wiring = new Map<string, TenantPath>();
  const received: InboundEvent[] = [];
  const sink: InboundSink = {
    async receive(event): Promise<InboundOutcome> {
      received.push(event);
      const tenant = wiring.get(event.chat);
      if (!tenant) return { kind: 'dropped', reason: `${event.chat} is wired to no tenant` };
      const { id } = acceptMessage(store, registry, { tenant, text: event.text, chat: event.chat, sender: event.sender.id });
      return { kind: 'stored', messages: [{ tenant, id }] };
    },
  };
  const webhook = new WebhookAdapter({ store, log, rate: opts.rate });
  const web = new WebChatAdapter({ store, outbox, log, pollMs: opts.pollMs ?? 200 });
  await webhook.start(sink);
  await web.start(sink);
  const routes = channelRoutes({ webhook, web, log });
  const server: Server = createHttpApi(
    bareHttpDeps(db, tree.tenants, { store, registry, outbox, log, extraRoutes: (app) => app.route('/', routes) }),
  );
  const address: AddressInfo = await listen(server, '127.0.0.1', 0);
  return {
    tree,
    db,
    store,
    webhook,
    web,
    wiring,
    received,
    url: `http://127.0.0.1:${address.port}`,
    hook(tenant, name, o = {}) {
      return mintToken(store, { tenant, kind: 'webhook', target: webhookTarget(store, tenant, name), ttlS: o.ttlS ?? 3600, hmac: o.hmac });
    },
    chatLink(tenant, chat, ttlS = 3600) {
      return mintToken(store, { tenant, kind: 'chat_link', target: chat, ttlS });
    },
    async close() {
      await web.stop();
      await webhook.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      db.close();
      tree.cleanup();
    },
  };
}
