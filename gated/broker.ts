// gated: keeps one socket per live tenant (and one per container run), in step with the tenant tree.
import { dirname, join } from 'node:path';
import type { Db } from '../core/db.js';
import { DEFAULT_CONNECTION_BOUNDS, type ConnectionBounds } from '../core/socket-transport.js';
import { logger as makeLogger, type Logger } from '../core/log.js';
import { tenantId, tierOf, isStrictDescendant, type TenantPath } from '../core/tenant-path.js';
import { TenantRegistry } from '../core/tree/registry.js';
import { watchTree } from '../core/tree/watch.js';
import { openWarrenDb } from '../core/warren-db.js';
import { AuditLog, type AuditOptions } from './audit.js';
import { loadAuditKey } from './audit-key.js';
import type { CallEnv, ToolCallEvent } from './call.js';
import { ControlServer, controlSocketPath, describeTenants, explainCall, type CallExplanation, type TenantsReport } from './control.js';
import { acquireDataLock, type DataLock } from './data-lock.js';
import { SocketListener } from './listener.js';
import { closedBecauseOf, PolicyCache, type PolicyRole } from './policy.js';
import {
  MAX_SOCKET_PATH_BYTES,
  clearSocketDir,
  placedPath,
  runSocketPlace,
  sweepIpc,
  tenantIpcDirs,
  tenantSocketPlace,
  type SocketPlace,
} from './socket-paths.js';
import { GatedStore } from './store.js';
import type { ProtocolDeps } from './session.js';
import { httpOptionsFromEnv, openHttpListener, type HttpConfig, type OpenHttpListener } from './http/open.js';
import type { RunContext } from './tools/tool.js';
import type { NextTurnResult, TurnResult } from '../core/turn.js';

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
  /** Per connection: requests in flight, unfinished-frame and untaken-reply timeouts (DEFAULT_CONNECTION_BOUNDS). */
  connectionBounds?: Partial<ConnectionBounds>;
  maxDelegationDepth?: number;
  /** Replaces secret values in tool results (wired by the secrets store). */
  redactorFor?: (tenant: TenantPath) => ((text: string) => string) | undefined;
  /** Audit retention and pruning (defaults: $WARREN_AUDIT_DAYS or 30 days, pruned every 10 minutes). */
  audit?: Pick<AuditOptions, 'retentionDays' | 'pruneEveryMs' | 'pruneBatchRows' | 'onPruned'>;
  /** Told of every call made on a run socket or endpoint, once audited (the gateway's live output). */
  onRunCall?: (call: ToolCallEvent) => void;
  /**
   * The HTTPS listener for runs that cannot reach a socket (openRunEndpoint): `listen` is host:port, `sans` the
   * names in its certificate (comma-separated). Default: $WARREN_GATED_HTTP and $WARREN_GATED_HTTP_SANS; off when
   * no address is set, or with null.
   */
  http?: HttpConfig | null;
}

/** What a run that reaches gated over HTTPS is given (the turn input carries it to the runner). */
export interface RunEndpoint {
  url: string;
  /** The run's bearer token: only its hash stays in gated; it is dead once close() has run. */
  token: string;
  /** The CA the runner pins (and nothing else). */
  caPem: string;
  close(): Promise<void>;
  beginTurn(next: RunContext): void;
}

export interface RunHooks {
  owner?: { uid: number; gid: number };
  onSubmit?: (result: TurnResult) => void;
  onNextTurn?: () => Promise<NextTurnResult>;
  /** A worker's calls are decided by the tenant's rules and the workers' rules together. */
  role?: PolicyRole;
}

export const DEFAULTS = {
  maxConnectionsPerSocket: 64,
  maxFrameBytes: 4 * 1024 * 1024,
  maxDelegationDepth: 3,
};

/** The tenant's socket path (see socket-paths.ts); throws SocketPathError when no form of it fits. */
export function tenantSocketPath(dataDir: string, tenant: TenantPath): string {
  return placedPath(tenantSocketPlace(dataDir, tenant));
}

/** A run's socket path (see socket-paths.ts); throws SocketPathError when no form of it fits. */
export function runSocketPath(dataDir: string, tenant: TenantPath, runId: string): string {
  return placedPath(runSocketPlace(dataDir, tenant, runId));
}

/** Tenant sockets opened at once: listen() is mostly waiting on the kernel, so a batch overlaps that wait. */
const OPEN_BATCH = 64;

/** Which of `candidates` need a socket opened and which need theirs closed. Pure. */
export function socketChanges(
  candidates: Iterable<TenantPath>,
  wanted: (tenant: TenantPath) => boolean,
  open: (tenant: TenantPath) => boolean,
): { open: TenantPath[]; close: TenantPath[] } {
  const out = { open: [] as TenantPath[], close: [] as TenantPath[] };
  for (const tenant of new Set(candidates)) {
    if (wanted(tenant) && !open(tenant)) out.open.push(tenant);
    else if (!wanted(tenant) && open(tenant)) out.close.push(tenant);
  }
  return out;
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
  /** Runs served over HTTPS, by run id: each one token of `http`. */
  private readonly runEndpoints = new Map<string, { tenant: TenantPath; revoke(): Promise<void> }>();
  private http: OpenHttpListener | null = null;
  /** Tenants refused a socket because its path cannot fit (warned once, until the tenant goes). */
  private readonly refusedTenants = new Set<TenantPath>();
  /** Runs that have reported their result (forgotten when their socket closes). */
  private readonly reportedRuns = new Set<string>();
  private watcher: { close(): Promise<void> } | null = null;
  private control: ControlServer | null = null;
  private syncing: Promise<void> = Promise.resolve();
  /** The pass that has not started yet, which every new tree event joins. */
  private queuedSync: Promise<void> | null = null;
  private fullSyncWanted = false;
  /** Tenants changed or removed since the last pass began. */
  private readonly changedTenants = new Set<TenantPath>();
  /** Paths of every live or opening socket of this broker, tenant and run alike. */
  private readonly livePaths = new Set<string>();
  private readonly ownsDb: boolean;

  private constructor(
    private readonly options: GatedOptions,
    log: Logger,
    private readonly lock: DataLock,
  ) {
    this.log = log;
    this.registry = options.registry ?? new TenantRegistry(options.tenantsDir, this.log);
    this.ownsDb = !options.db;
    this.db = options.db ?? openWarrenDb(options.dataDir);
    this.store = new GatedStore(this.db);
    this.audit = new AuditLog(options.dataDir, { ...options.audit, key: loadAuditKey(options.dataDir, { create: true }), log: this.log });
    this.policies = new PolicyCache(this.registry);
  }

  /** Refuses (DataLockError) when another live process holds DATA/warren.lock: one gated per data folder. */
  static async start(options: GatedOptions): Promise<Gated> {
    const log = options.log ?? makeLogger('gated');
    const lock = acquireDataLock(options.dataDir, log);
    let gated: Gated;
    try {
      gated = new Gated(options, log, lock);
    } catch (error) {
      lock.release();
      throw error;
    }
    try {
      await gated.begin();
    } catch (error) {
      await gated.stop().catch(() => undefined);
      throw error;
    }
    return gated;
  }

  private async begin(): Promise<void> {
    this.registry.on('changed', (path: TenantPath) => this.onTreeChange(path));
    this.registry.on('removed', (path: TenantPath) => this.onTreeChange(path));
    const watch = this.options.watch !== false;
    const ownRegistry = !this.options.registry;
    // Our own registry loads once the watch is live, so every change after the load is seen and no second full
    // read of the tree is needed; a registry loaded by the caller is re-scanned by the watcher instead.
    if (watch && ownRegistry) this.watcher = await watchTree(this.registry, { refreshWhenReady: false });
    if (ownRegistry) this.registry.loadAll();
    // The lock is held, so no live gated owns anything under DATA/ipc: sockets there are leftovers of a crash. The
    // folders of tenants about to listen again stay (only their sockets go).
    const reused = new Set<string>();
    for (const s of this.registry.list()) {
      const place = s.config ? tenantSocketPlace(this.options.dataDir, s.path) : null;
      if (place?.ok) reused.add(dirname(place.path));
    }
    const swept = sweepIpc(this.options.dataDir, (folder) => reused.has(folder));
    if (swept.sockets || swept.folders) this.log.info(swept, 'removed leftover sockets and socket folders');
    await this.sync(true);
    if (watch && !ownRegistry) this.watcher = await watchTree(this.registry);
    await this.startHttp();
    this.control = await ControlServer.start(controlSocketPath(this.options.dataDir), {
      registry: this.registry,
      closedBecauseOf: (tenant) => closedBecauseOf(this.registry, tenant),
      sockets: () => this.sockets(),
      envOf: (tenant) => this.envFor(tenant, null, this.log.child({ tenant }))(),
      log: this.log,
    });
    this.log.info({ tenants: this.tenantSockets.size, dataDir: this.options.dataDir }, 'gated ready');
  }

  /** The HTTPS listener, when configured (TLS material under DATA/tls, made on first use). */
  private async startHttp(): Promise<void> {
    const config = this.options.http === undefined ? httpOptionsFromEnv(process.env) : this.options.http;
    if (!config) return;
    this.http = await openHttpListener(this.options.dataDir, config, this.log);
  }

  /** The HTTPS listener, if one is open (tests look at its sessions). */
  get httpListener(): OpenHttpListener['listener'] | null {
    return this.http?.listener ?? null;
  }

  /** The URL runs are given for the HTTPS listener, if one is open. */
  get httpUrl(): string | null {
    return this.http?.url ?? null;
  }

  /** Where the tenant's socket is (throws SocketPathError when no form of the path fits). */
  socketPath(tenant: TenantPath): string {
    return tenantSocketPath(this.options.dataDir, tenant);
  }

  /** What `warren tenants` shows, from this gated's live state (the control socket answers the same). */
  describeTenants(): TenantsReport {
    return describeTenants(this.registry, (tenant) => closedBecauseOf(this.registry, tenant), this.sockets());
  }

  /** What a call would get on the tenant's own socket (the control socket's explain, in-process). */
  explainCall(tenant: TenantPath, tool: string, args: Record<string, unknown>): CallExplanation {
    return explainCall(this.envFor(tenant, null, this.log.child({ tenant }))(), this.registry, tool, args);
  }

  sockets(): Map<TenantPath, string> {
    return new Map([...this.tenantSockets].map(([t, l]) => [t, l.socketPath]));
  }

  /** Resolves when sockets match the tree as of now (tests and callers that just changed files use it). */
  settled(): Promise<void> {
    return this.sync();
  }

  /** Runs synchronously inside the registry's event: the policy is dropped before anything can ask for it again. */
  private onTreeChange(path: TenantPath): void {
    this.policies.invalidate(path);
    this.changedTenants.add(path);
    void this.sync();
  }

  /**
   * Brings sockets in step with the tree; serialised, and coalesced: however many tree events arrive before a pass
   * starts (a start-up load emits one per tenant), one pass handles them all.
   */
  private sync(full = false): Promise<void> {
    if (full) this.fullSyncWanted = true;
    this.queuedSync ??= this.syncing.then(() => {
      this.queuedSync = null;
      return this.syncOnce();
    });
    this.syncing = this.queuedSync.catch((error: unknown) => {
      this.log.error({ err: error }, 'socket sync failed');
    });
    return this.syncing;
  }

  /**
   * Opens sockets for tenants with a good configuration and closes those whose tenant is gone. Looks only at the
   * tenants that changed since the last pass (all of them on a full pass), so an edit costs its subtree, not the tree.
   */
  private async syncOnce(): Promise<void> {
    const full = this.fullSyncWanted;
    const changed = [...this.changedTenants];
    this.fullSyncWanted = false;
    this.changedTenants.clear();
    const candidates = full ? [...new Set([...this.tenantSockets.keys(), ...this.registry.list().map((s) => s.path)])] : changed;
    const { open, close } = socketChanges(candidates, (t) => this.registry.config(t) !== null, (t) => this.tenantSockets.has(t));
    for (const tenant of close) {
      const listener = this.tenantSockets.get(tenant)!;
      this.tenantSockets.delete(tenant);
      this.livePaths.delete(listener.socketPath);
      await listener.close();
      await this.closeRunSocketsOf(tenant);
      this.removeSocketDirsOf(tenant);
      this.log.info({ tenant }, 'tenant socket closed');
    }
    for (const tenant of candidates) if (this.registry.config(tenant) === null) this.refusedTenants.delete(tenant);
    const toOpen = open.filter((t) => !this.refusedTenants.has(t));
    for (let i = 0; i < toOpen.length; i += OPEN_BATCH) await Promise.all(toOpen.slice(i, i + OPEN_BATCH).map((t) => this.openTenantSocket(t)));
    this.notifyToolsChanged(changed);
  }

  private async openTenantSocket(tenant: TenantPath): Promise<void> {
    const place = this.checkedPlace(tenantSocketPlace(this.options.dataDir, tenant));
    if (!place.ok) {
      this.refusedTenants.add(tenant);
      this.log.warn(
        { tenant, socket: place.path, bytes: place.bytes, limit: MAX_SOCKET_PATH_BYTES },
        `tenant gets no socket: ${place.reason}`,
      );
      return;
    }
    const listener = this.listener(tenant, null, place.path, {});
    this.livePaths.add(place.path); // claimed before listening: a colliding tenant in the same batch is refused
    try {
      await listener.listen();
      this.tenantSockets.set(tenant, listener);
      this.log.info({ tenant, socket: listener.socketPath }, 'tenant socket open');
    } catch (error) {
      this.livePaths.delete(place.path);
      // A half-opened listener could still be bound and would keep answering (and keep the process alive).
      await listener.close().catch(() => undefined);
      this.log.error({ err: error, tenant }, 'could not open tenant socket');
    }
  }

  /** Sessions of a changed tenant and of its subtree (ancestors' denies apply below them) re-read tools/list. */
  private notifyToolsChanged(changed: readonly TenantPath[]): void {
    const notified = new Set<TenantPath>();
    for (const path of changed) {
      for (const tenant of [path, ...this.registry.subtreeOf(path)]) {
        if (notified.has(tenant)) continue;
        notified.add(tenant);
        this.tenantSockets.get(tenant)?.notifyToolsChanged();
      }
    }
  }

  /**
   * A place that fits is refused as well when a live socket of this broker already has that path (two short hashes
   * alike): binding it would take the other socket's place, and with it that socket's identity.
   */
  private checkedPlace(place: SocketPlace): SocketPlace {
    if (!place.ok || !this.livePaths.has(place.path)) return place;
    return { ok: false, path: place.path, bytes: Buffer.byteLength(place.path), reason: `${place.path} is already in use by another socket` };
  }

  /** The tenant's socket folders, once nothing of it listens there: only sockets and then the empty folder go. */
  private removeSocketDirsOf(tenant: TenantPath): void {
    const { readable, short } = tenantIpcDirs(this.options.dataDir, tenant);
    for (const dir of [readable, short]) {
      try {
        clearSocketDir(dir);
      } catch (error) {
        this.log.warn({ err: error, tenant, dir }, 'could not remove the socket folder');
      }
    }
  }

  private listener(
    tenant: TenantPath,
    run: (() => RunContext) | null,
    socketPath: string,
    extra: { owner?: { uid: number; gid: number }; mode?: number } & Pick<RunHooks, 'onSubmit' | 'onNextTurn' | 'role'>,
  ): SocketListener {
    const protocol = this.protocolDeps(tenant, run, extra);
    return new SocketListener({
      socketPath,
      maxConnections: this.options.maxConnectionsPerSocket ?? DEFAULTS.maxConnectionsPerSocket,
      owner: extra.owner,
      mode: extra.mode,
      log: protocol.log,
      session: {
        ...protocol,
        maxFrameBytes: this.options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
        bounds: { ...DEFAULT_CONNECTION_BOUNDS, ...this.options.connectionBounds },
      },
    });
  }

  /** The protocol of a socket or an endpoint: who its calls are made as, and a run's protocol methods. */
  private protocolDeps(tenant: TenantPath, run: (() => RunContext) | null, hooks: Pick<RunHooks, 'onSubmit' | 'onNextTurn' | 'role'>): ProtocolDeps {
    const log = this.log.child({ tenant, run: run?.().id });
    return { log, env: this.envFor(tenant, run, log, hooks.role), onSubmit: hooks.onSubmit, onNextTurn: hooks.onNextTurn };
  }

  /** What every call on one socket shares is built once; only the policy and the redactor are looked up per call. */
  private envFor(tenant: TenantPath, runOf: (() => RunContext) | null, log: Logger, role: PolicyRole = 'tenant'): () => CallEnv {
    const context: CallEnv['context'] = {
      tenant,
      tier: tierOf(tenant),
      run: null,
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
      const policy = this.policies.get(tenant, role);
      // The run as of this call: a coordinator's socket moves from turn to turn (openRunSocket's beginTurn).
      const run = runOf?.() ?? null;
      // Once a run has reported its result, its turn is over: nothing it does afterwards would be part of it.
      const ended = run !== null && this.reportedRuns.has(run.id);
      return {
        audit: this.audit,
        policy: ended && policy ? { ...policy, closedBecause: 'this turn has already reported its result; it can make no more calls' } : policy,
        redact: this.options.redactorFor?.(tenant),
        onCall: run ? this.options.onRunCall : undefined,
        context: run ? { ...context, run } : context,
      };
    };
  }

  /**
   * The turns of one run's socket or endpoint. A coordinator's (`onNextTurn`) outlives its turns: `beginTurn` moves
   * it to the next one, so every call is still made as exactly one turn (the gateway's single writer hands them out
   * one at a time), and a turn that has reported its result can make no more calls.
   */
  private runTurns(tenant: TenantPath, run: RunContext, hooks: RunHooks) {
    if (!this.registry.config(tenant)) throw new Error(`tenant ${tenant} has no valid configuration`);
    if (this.runSockets.has(run.id) || this.runEndpoints.has(run.id)) throw new Error(`run ${run.id} already has a socket or endpoint`);
    // The calls' view of the run; a coordinator's is a new one per turn (per-turn counters are keyed by it).
    let current: RunContext = { ...run };
    const onSubmit = hooks.onSubmit;
    const reported = onSubmit && ((result: TurnResult) => {
      this.reportedRuns.add(current.id);
      onSubmit(result);
    });
    return {
      runOf: () => current,
      hooks: { onSubmit: reported, onNextTurn: hooks.onNextTurn },
      beginTurn: (next: RunContext) => {
        this.reportedRuns.delete(current.id);
        current = { ...next };
      },
      forget: () => this.reportedRuns.delete(current.id),
    };
  }

  /**
   * A socket for one container run, bound to (tenant, run): its own identity, closed when the run ends. The owner
   * lets the container's non-root user connect while the file stays 0600.
   *
   * A worker's socket (`role: 'worker'`) decides each call by the tenant's rules and the workers' rules together.
   */
  async openRunSocket(
    tenant: TenantPath,
    run: RunContext,
    options: RunHooks = {},
  ): Promise<{ socketPath: string; close(): Promise<void>; beginTurn(next: RunContext): void }> {
    const turns = this.runTurns(tenant, run, options);
    const socketPath = placedPath(this.checkedPlace(runSocketPlace(this.options.dataDir, tenant, run.id)));
    const { owner, role } = options;
    const socketId = run.id;
    const listener = this.listener(tenant, turns.runOf, socketPath, { owner, mode: owner ? 0o600 : 0o660, role, ...turns.hooks });
    this.livePaths.add(socketPath);
    try {
      await listener.listen();
    } catch (error) {
      this.livePaths.delete(socketPath);
      await listener.close().catch(() => undefined);
      throw error;
    }
    this.runSockets.set(socketId, { tenant, listener });
    return {
      socketPath,
      beginTurn: turns.beginTurn,
      close: async () => {
        if (this.runSockets.get(socketId)?.listener === listener) {
          this.runSockets.delete(socketId);
          this.livePaths.delete(socketPath);
        }
        turns.forget();
        await listener.close();
      },
    };
  }

  /**
   * The HTTPS twin of openRunSocket, for a run that cannot reach a unix socket (a task on another node): a token
   * bound to (tenant, run), over the same protocol and call path; close() revokes it and ends its sessions.
   * Throws when the HTTP listener is off.
   */
  async openRunEndpoint(tenant: TenantPath, run: RunContext, options: Omit<RunHooks, 'owner'> = {}): Promise<RunEndpoint> {
    const http = this.http;
    if (!http) throw new Error('gated serves no HTTP listener: set WARREN_GATED_HTTP=host:port to open run endpoints');
    const turns = this.runTurns(tenant, run, options);
    const endpointId = run.id;
    const protocol = this.protocolDeps(tenant, turns.runOf, { ...turns.hooks, role: options.role });
    const { token, revoke } = http.listener.addRun(protocol, protocol.log);
    const entry = { tenant, revoke };
    this.runEndpoints.set(endpointId, entry);
    return {
      url: http.url,
      token,
      caPem: http.caPem,
      beginTurn: turns.beginTurn,
      close: async () => {
        if (this.runEndpoints.get(endpointId) === entry) this.runEndpoints.delete(endpointId);
        turns.forget();
        await revoke();
      },
    };
  }

  private async closeRunSocketsOf(tenant: TenantPath): Promise<void> {
    for (const [id, entry] of this.runSockets) {
      if (entry.tenant !== tenant) continue;
      this.runSockets.delete(id);
      this.livePaths.delete(entry.listener.socketPath);
      await entry.listener.close();
    }
    for (const [id, entry] of this.runEndpoints) {
      if (entry.tenant !== tenant) continue;
      this.runEndpoints.delete(id);
      await entry.revoke();
    }
  }

  async stop(): Promise<void> {
    await this.control?.close();
    await this.watcher?.close();
    await this.syncing;
    for (const listener of this.tenantSockets.values()) await listener.close();
    this.tenantSockets.clear();
    for (const { listener } of this.runSockets.values()) await listener.close();
    this.runSockets.clear();
    this.runEndpoints.clear();
    await this.http?.listener.close();
    this.http = null;
    try {
      sweepIpc(this.options.dataDir); // every socket of ours is closed and the lock still held: nothing there is live
    } catch (error) {
      this.log.warn({ err: error }, 'could not clear the socket folders');
    }
    await this.audit.close(); // every pending row is written before the database closes
    if (this.ownsDb) this.db.close();
    this.lock.release();
  }
}
