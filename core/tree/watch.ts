// Hot reload: watches tenants/ (fs.watch, one inotify watch per folder) and turns bursts of file events into the smallest registry update —
// reload one tenant for an edit of its own files, re-scan a subtree when folders come or go. Every home/ folder is
// ignored entirely (agents write there; it is never watched or read), as are dot-files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { logger, type Logger } from '../log.js';
import type { TenantPath } from '../tenant-path.js';
import { HOME_DIR, isHidden, OPERATOR_FILES, SKILL_FILE, SKILLS_DIR, splitTreePath, tenantDir } from './layout.js';
import { scanTree } from './scan.js';
import type { TenantRegistry, TenantRegistryEvents } from './registry.js';

export interface WatchOptions {
  /** Quiet time after the last event before the registry is updated. */
  debounceMs?: number;
  /** Longest a continuous stream of events can postpone an update. */
  maxWaitMs?: number;
  log?: Logger;
  /**
   * Re-scan the whole tree once the watch is live (default true), to catch what changed since the caller's
   * loadAll(). A caller that loads only after the watch is live passes false and saves a second read of every file.
   */
  refreshWhenReady?: boolean;
  /** fs.inotify.max_user_watches (default: read from /proc; null when unknown, e.g. not Linux). */
  watchLimit?: number | null;
  /** Called after each update with what was refreshed (tests use it to prove what was not). */
  onBatch?: (batch: Batch) => void;
}

export interface Batch {
  full: boolean;
  /** Subtrees re-scanned. */
  subtrees: TenantPath[];
  /** Tenants whose own files were reloaded. */
  reloads: TenantPath[];
}

export interface TreeWatcher {
  close(): Promise<void>;
  /** Folders watched (one inotify watch each), relative to the tenants folder ('' is the folder itself), sorted. */
  watched(): string[];
}

type Action = { kind: 'full' } | { kind: 'subtree'; tenant: TenantPath } | { kind: 'reload'; tenant: TenantPath } | null;

/**
 * True for paths the watcher must never look at: dot-entries, anything under a tenant's home/, and anything inside a
 * folder that is neither a tenant nor skills/ (a bad-named folder only matters as an entry of its parent).
 */
export function isIgnoredPath(relative: string): boolean {
  const { tenant, rest } = splitTreePath(relative);
  if (rest.length === 0) return false;
  if (rest.some(isHidden)) return true;
  if (tenant !== '' && rest[0] === HOME_DIR) return true;
  if (tenant !== '' && rest[0] === SKILLS_DIR) {
    return rest.length > 3 || (rest.length === 3 && rest[2] !== SKILL_FILE);
  }
  return rest.length > 1;
}

/** What a file event (add, change, unlink, rename, ...) at `relative` (path under the tenants folder) requires of the registry. Pure. */
export function actionFor(event: string, relative: string): Action {
  if (relative === '' || relative === '.') return { kind: 'full' };
  if (isIgnoredPath(relative)) return null;
  const { tenant, rest } = splitTreePath(relative);
  if (rest.length === 0) return { kind: 'subtree', tenant }; // a tenant folder (or symlink in its place) came or went
  if (tenant === '') return { kind: 'full' }; // a top-level non-tenant entry: only a full scan re-checks those
  if (rest[0] === SKILLS_DIR || (rest.length === 1 && OPERATOR_FILES.has(rest[0]!))) return { kind: 'reload', tenant };
  // Another entry in a tenant folder: a bad-named folder or a symlink is a scan error; a junk file's content is not.
  return event === 'change' ? null : { kind: 'subtree', tenant };
}

export async function watchTree(registry: TenantRegistry, opts: WatchOptions = {}): Promise<TreeWatcher> {
  const log = opts.log ?? logger('tree-watch');
  const debounceMs = opts.debounceMs ?? 50;
  const maxWaitMs = opts.maxWaitMs ?? 500;
  // Watch the real folder so event paths and ours agree even when the operator's tenants path is a symlink.
  let root: string;
  try {
    root = fs.realpathSync(registry.tenantsDir);
  } catch (err) {
    throw new Error(`cannot watch tenants folder ${registry.tenantsDir}: ${(err as Error).message}`);
  }
  const watchLimit = opts.watchLimit === undefined ? readWatchLimit() : opts.watchLimit;

  let full = false;
  const subtrees = new Set<TenantPath>();
  const reloads = new Set<TenantPath>();
  let timer: NodeJS.Timeout | undefined;
  let firstPending = 0;
  let closed = false;
  /** One fs.watch (one inotify watch) per folder, relative to the tenants folder ('' is the folder itself). */
  const watchers = new Map<string, fs.FSWatcher>();
  let limitReported = false;

  const schedule = (event: string, r: string) => {
    const action = actionFor(event, r);
    if (!action) return;
    if (action.kind === 'full') full = true;
    else if (action.kind === 'subtree') subtrees.add(action.tenant);
    else reloads.add(action.tenant);
    const now = Date.now();
    if (firstPending === 0) firstPending = now;
    if (timer) clearTimeout(timer);
    timer = setTimeout(flush, Math.max(0, Math.min(debounceMs, firstPending + maxWaitMs - now)));
  };

  const unwatch = (folder: string) => {
    watchers.get(folder)?.close();
    watchers.delete(folder);
  };

  /** Starts watching `folder`; true when it is newly watched. */
  const watchFolder = (folder: string): boolean => {
    if (closed || watchers.has(folder)) return false;
    let w: fs.FSWatcher;
    try {
      // An event names an entry of the folder: a file edited, an entry created, removed or renamed.
      w = fs.watch(path.join(root, folder), { persistent: true }, (event, name) => {
        if (closed) return;
        if (name === null) schedule('rename', folder); // entry unknown: the folder's owner is re-read
        else schedule(event === 'change' ? 'change' : 'rename', folder === '' ? name : `${folder}/${name}`);
      });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false; // gone already: its parent's event says so
      if (code === 'ENOSPC' && !limitReported) {
        // inotify is out of watches: changes in the folders not watched would be missed without a word.
        limitReported = true;
        log.error({ err, folder, limit: watchLimit }, `tenant tree watcher: the inotify watch limit is reached, ${WATCH_LIMIT_ADVICE}`);
      } else if (code !== 'ENOSPC') {
        log.error({ err, folder }, 'tenant tree watcher could not watch a folder');
      }
      return false;
    }
    w.on('error', () => unwatch(folder)); // the folder went away; its parent's watch reports that
    watchers.set(folder, w);
    return true;
  };

  /**
   * Makes the watched folders of `tenants` (and of the tenants folder itself) what the tree now holds, dropping those
   * whose owner is in `scope` but no longer wants them. Returns the tenants with a newly watched folder: anything
   * written there before the watch existed is read again by the caller.
   */
  const syncWatches = (tenants: Iterable<TenantPath>, scope: (owner: TenantPath | '') => boolean): Set<TenantPath> => {
    const wanted = new Set<string>(['']);
    for (const t of tenants) for (const f of watchFoldersOf(root, t)) wanted.add(f);
    for (const folder of [...watchers.keys()]) {
      if (!wanted.has(folder) && folder !== '' && scope(splitTreePath(folder).tenant)) unwatch(folder);
    }
    const fresh = new Set<TenantPath>();
    for (const folder of wanted) if (watchFolder(folder) && folder !== '') fresh.add(splitTreePath(folder).tenant as TenantPath);
    return fresh;
  };
  const under = (s: TenantPath) => (owner: TenantPath | '') => owner === s || owner.startsWith(s + '/');

  const flush = () => {
    timer = undefined;
    firstPending = 0;
    if (closed) return;
    const batch = plan(full, subtrees, reloads);
    full = false;
    subtrees.clear();
    reloads.clear();
    try {
      const fresh = new Set<TenantPath>();
      const add = (more: Set<TenantPath>) => more.forEach((t) => fresh.add(t));
      if (batch.full) {
        registry.refresh();
        add(syncWatches(registry.list().map((s) => s.path), () => true));
      }
      for (const t of batch.subtrees) {
        registry.refresh(t);
        add(syncWatches(registry.subtreeOf(t), under(t)));
      }
      for (const t of batch.reloads) {
        registry.reload(t);
        add(syncWatches(registry.get(t) ? [t] : [], (owner) => owner === t));
      }
      for (const t of fresh) registry.reload(t);
    } catch (err) {
      log.error({ err }, 'tenant tree update failed');
    }
    opts.onBatch?.(batch);
  };

  // The folders to watch come from a scan (no file is read), so a caller may load the tree after the watch is live.
  // Scanned again until nothing new turns up: a folder made during a scan is then an event of a watched parent.
  const wanted = new Set<string>(['']);
  for (let added = true; added; ) {
    added = false;
    for (const t of scanTree(root).tenants) for (const f of watchFoldersOf(root, t)) wanted.add(f);
    for (const folder of wanted) added = watchFolder(folder) || added;
  }
  const advice = watchLimitAdvice(wanted.size, watchLimit);
  if (advice) log[advice.level]({ watches: wanted.size, limit: watchLimit, recommended: advice.recommended }, advice.message);
  else log.debug({ watches: wanted.size, limit: watchLimit }, 'tenant tree watched');
  // Catch whatever changed between the caller's loadAll() and the watch becoming live.
  if (opts.refreshWhenReady !== false) registry.refresh();

  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
    watched() {
      return [...watchers.keys()].sort();
    },
  };
}

/**
 * The folders watched for one tenant: its own folder (its operator files and child folders are entries of it), its
 * skills/ and each skill folder (whose SKILL.md is an entry of it). Files need no watch of their own; home/,
 * dot-entries and symlinks are never watched.
 */
export function watchFoldersOf(tenantsDir: string, tenant: TenantPath): string[] {
  const out: string[] = [tenant];
  const skills = path.join(tenantDir(tenantsDir, tenant), SKILLS_DIR);
  let entries: fs.Dirent[];
  try {
    if (!fs.lstatSync(skills).isDirectory()) return out;
    entries = fs.readdirSync(skills, { withFileTypes: true });
  } catch {
    return out; // no skills folder (or an unreadable one, which the loader reports)
  }
  out.push(`${tenant}/${SKILLS_DIR}`);
  for (const e of entries) if (e.isDirectory() && !isHidden(e.name)) out.push(`${tenant}/${SKILLS_DIR}/${e.name}`);
  return out;
}

/** What `sysctl` setting fixes a watch shortage (docs/operations.md says more). */
const WATCH_LIMIT_ADVICE = 'so changes to part of the tree are missed; raise fs.inotify.max_user_watches (docs/operations.md)';

/** The limit to suggest: twice what the tree needs (it grows, and every process of the user shares it), 64Ki at least. */
export function recommendedWatchLimit(needed: number): number {
  return Math.max(65536, Math.ceil((needed * 2) / 1024) * 1024);
}

/**
 * Whether the operator must hear about the inotify limit, and what to say. Pure. Over the limit, changes are missed:
 * an error. Above 80% of it, the next tenants (or another watching process of the same user) exceed it: a warning.
 */
export function watchLimitAdvice(
  needed: number,
  limit: number | null,
): { level: 'error' | 'warn'; message: string; recommended: number } | null {
  if (limit === null || needed <= limit * 0.8) return null;
  const recommended = recommendedWatchLimit(needed);
  const fix = `set it with: sysctl -w fs.inotify.max_user_watches=${recommended} (and in /etc/sysctl.d/ to keep it)`;
  if (needed > limit) {
    return {
      level: 'error',
      recommended,
      message:
        `the tenant tree needs ${needed} inotify watches but fs.inotify.max_user_watches is ${limit}: ` +
        `changes beyond that are missed (no hot reload for those tenants); ${fix}`,
    };
  }
  return {
    level: 'warn',
    recommended,
    message:
      `the tenant tree needs ${needed} inotify watches, close to fs.inotify.max_user_watches (${limit}, shared by ` +
      `every process of this user); a larger tree will miss changes; ${fix}`,
  };
}

/** fs.inotify.max_user_watches, or null where it cannot be read. */
export function readWatchLimit(): number | null {
  try {
    const n = Number(fs.readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8').trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Reduces pending work: a full scan covers everything; a subtree covers its descendants' subtrees and reloads. */
export function plan(full: boolean, subtrees: Iterable<TenantPath>, reloads: Iterable<TenantPath>): Batch {
  if (full) return { full: true, subtrees: [], reloads: [] };
  const covers = (s: TenantPath, t: TenantPath) => t === s || t.startsWith(s + '/');
  const all = [...new Set(subtrees)].sort();
  const kept = all.filter((t) => !all.some((s) => s !== t && covers(s, t)));
  const rest = [...new Set(reloads)].sort().filter((t) => !kept.some((s) => covers(s, t)));
  return { full: false, subtrees: kept, reloads: rest };
}

/**
 * Resolves on the next `event` for `tenant` (register BEFORE causing the change); rejects after `timeoutMs`.
 * Meant for tests and scripts that need to wait for hot reload.
 */
export function nextEvent(
  registry: TenantRegistry,
  event: keyof TenantRegistryEvents,
  tenant: TenantPath,
  timeoutMs = 5000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEvent = (p: TenantPath) => {
      if (p !== tenant) return;
      cleanup();
      resolve();
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}' of ${tenant}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      registry.off(event, onEvent);
    };
    registry.on(event, onEvent);
  });
}
