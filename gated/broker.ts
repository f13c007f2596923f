// gated: keeps one socket per live tenant (and one per container run), in step with the tenant tree.
import { join } from 'node:path';
import type { Db } from '../core/db.js';
import { logger as makeLogger, type Logger } from '../core/log.js';
import { tenantId, tierOf, isStrictDescendant, type TenantPath } from '../core/tenant-path.js';
import { TenantRegistry } from '../core/tree/registry.js';
import { watchTree } from '../core/tree/watch.js';
import { openWarrenDb } from '../core/warren-db.js';
import { AuditLog, type AuditOptions } from './audit.js';
import { loadAuditKey } from './audit-key.js';
import type { CallEnv } from './call.js';
import { SocketListener } from './listener.js';
import { PolicyCache } from './policy.js';
import { GatedStore } from './store.js';
import type { RunContext } from './tools/tool.js';
import type { TurnResult } from '../core/turn.js';

export interface GatedOptions {
  tenantsDir: string;
  dataDir: string;
  /** Share an open warren.db (the gateway does); otherwise gated opens DATA/warren.db. */
  db?: Db;
  registry?: TenantRegistry;
  log?: Logger;
  /** Watch the tree for changes (default true). */
  watch?: boolean;
  maxConnectionsPerSocket?: number;
  maxFrameBytes?: number;
  maxDelegationDepth?: number;
  /** Replaces secret values in tool results (wired by the secrets store). */
  redactorFor?: (tenant: TenantPath) => ((text: string) => string) | undefined;
  /** Audit retention and pruning (defaults: $WARREN_AUDIT_DAYS or 30 days, pruned every 10 minutes). */
  audit?: Pick<AuditOptions, 'retentionDays' | 'pruneEveryMs' | 'pruneBatchRows' | 'onPruned'>;
}

export const DEFAULTS = {
  maxConnectionsPerSocket: 64,
  maxFrameBytes: 4 * 1024 * 1024,
  maxDelegationDepth: 3,
};

export function tenantSocketPath(dataDir: string, tenant: TenantPath): string {
  return join(dataDir, 'ipc', tenantId(tenant), 'gated.sock');
}

export function runSocketPath(dataDir: string, tenant: TenantPath, runId: string): string {
  return join(dataDir, 'ipc', tenantId(tenant), `run-${runId}.sock`);
}

export class Gated {
  readonly registry: TenantRegistry;
  readonly db: Db;
  readonly store: GatedStore;
  readonly audit: AuditLog;
  readonly policies: PolicyCache;
  private readonly log: Logger;
  private readonly tenantSockets = new Map<TenantPath, SocketListener>();
  private readonly runSockets = new Map<string, { tenant: TenantPath; listener: SocketListener }>();
  /** Runs that have reported their result (forgotten when their socket closes). */
  private readonly reportedRuns = new Set<string>();
  private watcher: { close(): Promise<void> } | null = null;
  private syncing: Promise<void> = Promise.resolve();
  private readonly ownsDb: boolean;

  private constructor(private readonly options: GatedOptions) {
    this.log = options.log ?? makeLogger('gated');
    this.registry = options.registry ?? new TenantRegistry(options.tenantsDir, this.log);
    this.ownsDb = !options.db;
    this.db = options.db ?? openWarrenDb(options.dataDir);
    this.store = new GatedStore(this.db);
    this.audit = new AuditLog(options.dataDir, { ...options.audit, key: loadAuditKey(options.dataDir, { create: true }), log: this.log });
    this.policies = new PolicyCache(this.registry);
  }

  static async start(options: GatedOptions): Promise<Gated> {
    const gated = new Gated(options);
    await gated.begin();
    return gated;
  }

  private async begin(): Promise<void> {
    this.registry.on('changed', (path: TenantPath) => this.onTreeChange(path));
    this.registry.on('removed', (path: TenantPath) => this.onTreeChange(path));
    if (!this.options.registry) this.registry.loadAll();
    await this.sync();
    if (this.options.watch !== false) this.watcher = await watchTree(this.registry);
    this.log.info({ tenants: this.tenantSockets.size, dataDir: this.options.dataDir }, 'gated ready');
  }

  socketPath(tenant: TenantPath): string {
    return tenantSocketPath(this.options.dataDir, tenant);
  }

  /** Live tenant sockets (tenant -> path). */
  sockets(): Map<TenantPath, string> {
    return new Map([...this.tenantSockets].map(([t, l]) => [t, l.socketPath]));
  }

  /** Resolves when sockets match the tree as of now (tests and callers that just changed files use it). */
  settled(): Promise<void> {
    return this.sync();
  }

  private onTreeChange(path: TenantPath): void {
    this.policies.invalidate(path);
    void this.sync().then(() => {
      for (const [tenant, listener] of this.tenantSockets) {
        if (tenant === path || isStrictDescendant(tenant, path)) listener.notifyToolsChanged();
      }
    });
  }

  /** Opens sockets for tenants with a good configuration and closes those whose tenant is gone; serialised. */
  private sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncOnce()).catch((error: unknown) => {
      this.log.error({ err: error }, 'socket sync failed');
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    const wanted = new Set(this.registry.list().filter((s) => s.config !== null).map((s) => s.path));
    for (const [tenant, listener] of this.tenantSockets) {
      if (wanted.has(tenant)) continue;
      this.tenantSockets.delete(tenant);
      await listener.close();
      await this.closeRunSocketsOf(tenant);
      this.log.info({ tenant }, 'tenant socket closed');
    }
    for (const tenant of wanted) {
      if (this.tenantSockets.has(tenant)) continue;
      const listener = this.listener(tenant, null, this.socketPath(tenant), {});
      try {
        await listener.listen();
        this.tenantSockets.set(tenant, listener);
        this.log.info({ tenant, socket: listener.socketPath }, 'tenant socket open');
      } catch (error) {
        this.log.error({ err: error, tenant }, 'could not open tenant socket');
      }
    }
  }

  private listener(
    tenant: TenantPath,
    run: RunContext | null,
    socketPath: string,
    extra: { owner?: { uid: number; gid: number }; mode?: number; onSubmit?: (result: TurnResult) => void },
  ): SocketListener {
    const log = this.log.child({ tenant, run: run?.id });
    return new SocketListener({
      socketPath,
      maxConnections: this.options.maxConnectionsPerSocket ?? DEFAULTS.maxConnectionsPerSocket,
      owner: extra.owner,
      mode: extra.mode,
      log,
      session: {
        log,
        onSubmit: extra.onSubmit,
        maxFrameBytes: this.options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
        env: this.envFor(tenant, run, log),
      },
    });
  }

  /** What every call on one socket shares is built once; only the policy and the redactor are looked up per call. */
  private envFor(tenant: TenantPath, run: RunContext | null, log: Logger): () => CallEnv {
    const context: CallEnv['context'] = {
      tenant,
      tier: tierOf(tenant),
      run,
      tenantsDir: this.options.tenantsDir,
      filesDir: join(this.options.dataDir, 'files', tenantId(tenant)),
      registry: this.registry,
      store: this.store,
      db: this.db,
      log,
      maxDelegationDepth: this.options.maxDelegationDepth ?? DEFAULTS.maxDelegationDepth,
      refreshTenant: (path) => {
        this.registry.refresh(path);
        this.policies.invalidate(path);
      },
    };
    return () => {
      const policy = this.policies.get(tenant);
      // Once a run has reported its result, its turn is over: nothing it does afterwards would be part of it.
      const ended = run !== null && this.reportedRuns.has(run.id);
      return {
        audit: this.audit,
        policy: ended && policy ? { ...policy, closedBecause: 'this turn has already reported its result; it can make no more calls' } : policy,
        redact: this.options.redactorFor?.(tenant),
        context,
      };
    };
  }

  /**
   * A socket for one container run, bound to (tenant, run): its own identity, closed when the run ends. The owner
   * lets the container's non-root user connect while the file stays 0600.
   */
  async openRunSocket(
    tenant: TenantPath,
    run: RunContext,
    options: { owner?: { uid: number; gid: number }; onSubmit?: (result: TurnResult) => void } = {},
  ): Promise<{ socketPath: string; close(): Promise<void> }> {
    if (!this.registry.config(tenant)) throw new Error(`tenant ${tenant} has no valid configuration`);
    const socketPath = runSocketPath(this.options.dataDir, tenant, run.id);
    const { owner, onSubmit } = options;
    const reported = (result: TurnResult) => {
      this.reportedRuns.add(run.id);
      onSubmit?.(result);
    };
    const listener = this.listener(tenant, run, socketPath, { owner, mode: owner ? 0o600 : 0o660, onSubmit: onSubmit && reported });
    await listener.listen();
    this.runSockets.set(run.id, { tenant, listener });
    return {
      socketPath,
      close: async () => {
        this.runSockets.delete(run.id);
        this.reportedRuns.delete(run.id);
        await listener.close();
      },
    };
  }

  private async closeRunSocketsOf(tenant: TenantPath): Promise<void> {
    for (const [id, entry] of this.runSockets) {
      if (entry.tenant !== tenant) continue;
      this.runSockets.delete(id);
      await entry.listener.close();
    }
  }

  async stop(): Promise<void> {
    await this.watcher?.close();
    await this.syncing;
    for (const listener of this.tenantSockets.values()) await listener.close();
    this.tenantSockets.clear();
    for (const { listener } of this.runSockets.values()) await listener.close();
    this.runSockets.clear();
    await this.audit.close(); // every pending row is written before the database closes
    if (this.ownsDb) this.db.close();
  }
}
