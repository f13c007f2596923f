// The live view of the tenant tree: every tenant's last good config plus its current errors, kept up to date by
// refresh()/reload() (the watcher calls them). A broken file never widens anything: the tenant keeps its last good
// config, and a tenant that never had one has config null (no socket).
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { formatConfigError, type ConfigError } from '../config-error.js';
import { logger, type Logger } from '../log.js';
import { ancestorsOf, type TenantPath } from '../tenant-path.js';
import { loadTenant, tenantFolderProblem, type LoadResult } from './load.js';
import { scanTree, type ScanError } from './scan.js';
import type { TenantConfig, TenantState } from './types.js';

export interface TenantRegistryEvents {
  /** A tenant appeared, or its config or its errors changed. The registry is already updated when this fires. */
  changed: [path: TenantPath];
  /** A tenant's folder is gone (or stopped being a tenant folder). Fired for every tenant of a removed subtree. */
  removed: [path: TenantPath];
}

const inSubtree = (p: string, under: TenantPath | undefined) => under === undefined || p === under || p.startsWith(under + '/');

export class TenantRegistry extends EventEmitter<TenantRegistryEvents> {
  readonly tenantsDir: string;
  private readonly log: Logger;
  private states = new Map<TenantPath, TenantState>();
  private treeErrors: ScanError[] = [];

  constructor(tenantsDir: string, log?: Logger) {
    super();
    this.tenantsDir = path.resolve(tenantsDir);
    this.log = log ?? logger('tree');
  }

  /** Initial load of the whole tree. */
  loadAll(): void {
    this.refresh();
  }

  /** Re-scans the subtree at `under` (or the whole tree): finds new and removed tenants and reloads every one. */
  refresh(under?: TenantPath): void {
    const scan = scanTree(this.tenantsDir, under);
    const before = new Set(this.treeErrors.map(formatConfigError));
    this.treeErrors = this.treeErrors.filter((e) => !(e.owner === '' ? under === undefined : inSubtree(e.owner, under)));
    this.treeErrors.push(...scan.errors);
    for (const e of scan.errors) {
      if (!before.has(formatConfigError(e))) this.log.warn({ file: e.file, line: e.line }, `tenant tree: ${formatConfigError(e)}`);
    }

    const found = new Set(scan.tenants);
    const removed = [...this.states.keys()].filter((p) => inSubtree(p, under) && !found.has(p));
    for (const p of removed) this.states.delete(p);
    const changed = scan.tenants.filter((t) => this.apply(t, loadTenant(this.tenantsDir, t)));

    for (const p of removed.sort().reverse()) {
      this.log.info({ tenant: p }, 'tenant removed');
      this.emitSafely('removed', p);
    }
    for (const p of changed) this.emitSafely('changed', p);
  }

  /** Reloads only `tenant`'s own files (a PERSONA.md/grants/allowlist/skill edit). Unknown or vanished: refresh it. */
  reload(tenant: TenantPath): void {
    if (!this.states.has(tenant) || tenantFolderProblem(this.tenantsDir, tenant) !== null) {
      this.refresh(tenant);
      return;
    }
    if (this.apply(tenant, loadTenant(this.tenantsDir, tenant))) this.emitSafely('changed', tenant);
  }

  get(tenant: TenantPath): TenantState | undefined {
    return this.states.get(tenant);
  }

  /** All tenants, sorted by path. */
  list(): TenantState[] {
    return [...this.states.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** The tenant's last good config, or null (unknown tenant, or never had a good config). */
  config(tenant: TenantPath): TenantConfig | null {
    return this.states.get(tenant)?.config ?? null;
  }

  /**
   * Configs of the tenant's ancestors that exist, nearest first (their grants' deny rules narrow this tenant). Null
   * when any existing ancestor never had a good config: its denies are unknown, so callers must fail closed.
   */
  ancestorConfigs(tenant: TenantPath): TenantConfig[] | null {
    const out: TenantConfig[] = [];
    for (const a of ancestorsOf(tenant)) {
      const state = this.states.get(a);
      if (!state) continue; // e.g. no tenants/root folder at all
      if (!state.config) return null;
      out.push(state.config);
    }
    return out;
  }

  /** Tree-level errors (names, symlinks, depth) followed by each tenant's file errors. */
  errors(): ConfigError[] {
    const tree = this.treeErrors.map(({ file, line, message }) => ({ file, line, message }));
    return [...tree, ...this.list().flatMap((s) => s.errors)];
  }

  /** Stores a load result; returns true when the tenant is new or its config or errors changed. */
  private apply(tenant: TenantPath, result: LoadResult): boolean {
    const prev = this.states.get(tenant);
    const next: TenantState = { path: tenant, config: result.config ?? prev?.config ?? null, errors: result.errors };
    const changed = !prev || !isDeepStrictEqual(prev.config, next.config) || !isDeepStrictEqual(prev.errors, next.errors);
    if (!changed) return false;
    this.states.set(tenant, next);
    if (next.errors.length > 0 && !isDeepStrictEqual(prev?.errors, next.errors)) {
      const kept = next.config ? 'keeping its last good config' : 'it has no good config and gets no socket';
      for (const e of next.errors) this.log.warn({ tenant, file: e.file, line: e.line }, `${formatConfigError(e)} (${kept})`);
    } else if (next.errors.length === 0 && prev && prev.errors.length > 0) {
      this.log.info({ tenant }, 'tenant config is valid again');
    } else if (!prev) {
      this.log.debug({ tenant }, 'tenant loaded');
    }
    return true;
  }

  /** One throwing listener must neither stop the others nor abort a refresh. */
  private emitSafely(event: keyof TenantRegistryEvents, tenant: TenantPath): void {
    for (const listener of this.rawListeners(event)) {
      try {
        (listener as (p: TenantPath) => void).call(this, tenant);
      } catch (err) {
        this.log.error({ err, event, tenant }, 'tenant registry listener threw');
      }
    }
  }
}
