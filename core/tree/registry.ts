// The live view of the tenant tree: every tenant's config plus its current errors, kept up to date by
// refresh()/reload() (the watcher calls them). A broken file never widens anything: each file keeps its last good
// contents (last-good.ts), and a tenant with a present file that never parsed has config null (no socket).
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { formatConfigError, type ConfigError } from '../config-error.js';
import { logger, type Logger } from '../log.js';
import { ancestorsOf, parentOf, type TenantPath } from '../tenant-path.js';
import { assembleConfig, changedFiles, mergeLastGood, type BrokenFile, type FileValue } from './last-good.js';
import { readTenantFiles, tenantFolderProblem } from './load.js';
import { scanTree, type ScanError } from './scan.js';
import type { TenantConfig, TenantState } from './types.js';

export interface TenantRegistryEvents {
  /** A tenant appeared, or its config or its errors changed. The registry is already updated when this fires. */
  changed: [path: TenantPath];
  /** A tenant's folder is gone (or stopped being a tenant folder). Fired for every tenant of a removed subtree. */
  removed: [path: TenantPath];
}

/** The key of a problem with the tenant folder itself (no file of it could be read). */
const FOLDER = '.';

const inSubtree = (p: string, under: TenantPath | undefined) => under === undefined || p === under || p.startsWith(under + '/');

export class TenantRegistry extends EventEmitter<TenantRegistryEvents> {
  readonly tenantsDir: string;
  private readonly log: Logger;
  private states = new Map<TenantPath, TenantState>();
  /** Each known tenant's known children, so a subtree is found without looking at the rest of the tree. */
  private children = new Map<TenantPath, Set<TenantPath>>();
  /** list()'s answer until the set of tenants or any state changes (operator commands call it at every size). */
  private sorted: TenantState[] | null = null;
  /** Per tenant, the contents of each file that count (its current ones if they parse, else its last good ones), and which files are broken. */
  private files = new Map<TenantPath, { good: Map<string, FileValue>; broken: string[] }>();
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
    for (const p of removed) this.forget(p);
    const changed = scan.tenants.filter((t) => this.apply(t));

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
    if (this.apply(tenant)) this.emitSafely('changed', tenant);
  }

  get(tenant: TenantPath): TenantState | undefined {
    return this.states.get(tenant);
  }

  /** All tenants, sorted by path. */
  list(): TenantState[] {
    this.sorted ??= [...this.states.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return [...this.sorted];
  }

  /** The known direct children of `tenant`, sorted (root's are the worlds). */
  childrenOf(tenant: TenantPath): TenantPath[] {
    return [...(this.children.get(tenant) ?? [])].sort();
  }

  /** `tenant` (when known) and every known tenant below it; the cost is the subtree's size, not the tree's. */
  subtreeOf(tenant: TenantPath): TenantPath[] {
    const out: TenantPath[] = this.states.has(tenant) ? [tenant] : [];
    const pending = [...(this.children.get(tenant) ?? [])];
    for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
      out.push(p);
      for (const c of this.children.get(p) ?? []) pending.push(c);
    }
    return out;
  }

  /** The tenant's config, or null (unknown tenant, or a present file of it never parsed). */
  config(tenant: TenantPath): TenantConfig | null {
    return this.states.get(tenant)?.config ?? null;
  }

  /**
   * Configs of the tenant's ancestors that exist, nearest first (their grants' deny rules narrow this tenant). Null
   * when any existing ancestor has no config: its denies are unknown, so callers must fail closed.
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

  /** Re-reads the tenant's files; returns true when the tenant is new or its config or errors changed. */
  private apply(tenant: TenantPath): boolean {
    const prev = this.states.get(tenant);
    const prevFiles = this.files.get(tenant) ?? { good: new Map<string, FileValue>(), broken: [] };
    const read = readTenantFiles(this.tenantsDir, tenant);
    let next: TenantState;
    let nextGood = new Map<string, FileValue>();
    let broken: BrokenFile[] = [];
    if (!read.files) {
      next = { path: tenant, config: null, errors: read.errors };
      broken = [{ key: FOLDER, errors: read.errors, kept: false }];
    } else {
      const merged = mergeLastGood(prevFiles.good, read.files.outcomes);
      nextGood = merged.good;
      broken = merged.broken;
      const assembled = merged.usable ? assembleConfig(read.files, merged.good) : null;
      // An unchanged config stays the same object, so listeners and caches can compare by identity.
      const config = assembled && prev?.config && isDeepStrictEqual(prev.config, assembled) ? prev.config : assembled;
      next = { path: tenant, config, errors: broken.flatMap((b) => b.errors) };
    }
    const brokenKeys = broken.map((b) => b.key);
    this.files.set(tenant, { good: nextGood, broken: brokenKeys });
    const configChanged = !prev || !isDeepStrictEqual(prev.config, next.config);
    const errorsChanged = !prev || !isDeepStrictEqual(prev.errors, next.errors);
    if (!configChanged && !errorsChanged) return false;
    this.remember(next);

    if (errorsChanged && next.errors.length > 0) {
      for (const file of broken) {
        const outcome = file.kept
          ? `keeping the last good contents of ${file.key}`
          : `${file.key === FOLDER ? 'the tenant folder is unusable' : `${file.key} never parsed`}, so the tenant has no configuration: no socket, every call refused`;
        for (const e of file.errors) this.log.warn({ tenant, file: e.file, line: e.line }, `${formatConfigError(e)} (${outcome})`);
      }
    } else if (errorsChanged && prev && prev.errors.length > 0) {
      this.log.info({ tenant }, 'tenant config is valid again');
    }
    if (!prev) {
      this.log.debug({ tenant }, 'tenant loaded');
    } else if (configChanged) {
      // Applied: the contents that count changed, or a broken file was fixed or deleted. Withdrawn: files never parsed.
      const mended = prevFiles.broken.filter((k) => !brokenKeys.includes(k));
      const files = next.config
        ? [...new Set([...changedFiles(prevFiles.good, nextGood), ...mended])].sort()
        : broken.filter((b) => !b.kept).map((b) => b.key);
      const what = next.config ? `applied (${files.join(', ')} changed)` : 'withdrawn: the tenant has no configuration';
      this.log.info({ tenant, files }, `tenant config ${what}`);
    }
    return true;
  }

  private remember(state: TenantState): void {
    const known = this.states.has(state.path);
    this.states.set(state.path, state);
    this.sorted = null;
    if (known) return;
    const parent = parentOf(state.path);
    if (parent === null) return;
    let siblings = this.children.get(parent);
    if (!siblings) this.children.set(parent, (siblings = new Set()));
    siblings.add(state.path);
  }

  private forget(tenant: TenantPath): void {
    this.states.delete(tenant);
    this.files.delete(tenant);
    this.sorted = null;
    const parent = parentOf(tenant);
    const siblings = parent === null ? undefined : this.children.get(parent);
    siblings?.delete(tenant);
    if (siblings?.size === 0) this.children.delete(parent!);
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
