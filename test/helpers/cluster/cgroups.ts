// cgroups are how the harness finds every process a node ever started, whoever forked it: each node's dockerd is put
// into <run>/<node>-daemon before it starts (its containerd and shims inherit it) and its containers go under
// <run>/<node> (--cgroup-parent). Killing what is in <run> therefore kills the whole node, even after a dockerd was
// killed and its shims were orphaned. Works with cgroup v2 (one hierarchy) and v1 / hybrid (one per controller).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleepSync } from './host.js';

const ROOT = '/sys/fs/cgroup';

function isV2(): boolean {
  return existsSync(join(ROOT, 'cgroup.controllers'));
}

/** Every hierarchy root: /sys/fs/cgroup itself on v2, each mounted controller folder on v1/hybrid. */
export function hierarchies(): string[] {
  if (isV2()) return [ROOT];
  return readdirSync(ROOT)
    .map((name) => join(ROOT, name))
    .filter((dir) => existsSync(join(dir, 'cgroup.procs')));
}

/** The hierarchy membership is tracked in: v2's, else v1's pids controller (every process is in exactly one of its
 * cgroups), else the first one mounted. */
export function trackingHierarchy(): string {
  if (isV2()) return ROOT;
  const all = hierarchies();
  const pids = all.find((dir) => dir.endsWith('/pids'));
  const chosen = pids ?? all[0];
  if (!chosen) throw new Error(`no cgroup hierarchy is mounted under ${ROOT}`);
  return chosen;
}

/** Creates the cgroup and returns the path of its cgroup.procs (write a pid there to move that process in). */
export function prepareCgroup(relative: string): string {
  const dir = join(trackingHierarchy(), relative);
  mkdirSync(dir, { recursive: true });
  return join(dir, 'cgroup.procs');
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** Pids in a cgroup and all below it. */
export function pidsUnder(dir: string): number[] {
  const own = (() => {
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  })();
  return [...own, ...subdirs(dir).flatMap(pidsUnder)];
}

/** Kills (SIGKILL) everything under `<hierarchy>/<relative>` until it stays empty; throws if it will not empty. */
export function killCgroup(relative: string, timeoutMs = 10_000): void {
  const dir = join(trackingHierarchy(), relative);
  if (!existsSync(dir)) return;
  const kill = join(dir, 'cgroup.kill');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = pidsUnder(dir);
    if (pids.length === 0) return;
    if (existsSync(kill)) {
      writeFileSync(kill, '1');
    } else {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} in cgroup ${dir} did not die`);
    sleepSync(50);
  }
}

/** Removes `<relative>` and everything below it in every hierarchy (the cgroups must be empty: kill first). */
export function removeCgroup(relative: string): void {
  for (const hierarchy of hierarchies()) {
    const dir = join(hierarchy, relative);
    if (existsSync(dir)) removeTree(dir);
  }
}

function removeTree(dir: string): void {
  for (const sub of subdirs(dir)) removeTree(sub);
  // An emptied cgroup can linger for a moment while the kernel finishes with its last task.
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      if (attempt >= 40) throw new Error(`cannot remove cgroup ${dir}: ${(error as Error).message}`);
      sleepSync(50);
    }
  }
}

/** Top-level cgroup names (in any hierarchy) — what the sweep looks through. */
export function topLevelCgroups(): string[] {
  const names = new Set<string>();
  for (const hierarchy of hierarchies()) {
    for (const dir of subdirs(hierarchy)) {
      try {
        if (statSync(dir).isDirectory()) names.add(dir.slice(hierarchy.length + 1));
      } catch {
        // raced with a removal
      }
    }
  }
  return [...names];
}
