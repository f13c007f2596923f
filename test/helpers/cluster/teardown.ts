// Removing a run, from its id alone: close() of a live cluster, the exit hook and the start-up sweep of runs whose
// owner died all use teardownRun, so a killed test leaves nothing the next one does not remove.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { hierarchies, killCgroup, removeCgroup, topLevelCgroups } from './cgroups.js';
import { processStartTime, run, tryRun } from './host.js';
import { PREFIX, STATE_ROOT, isRunId, isStale, parseOwner, runDir, runIdOf } from './names.js';
import { listHostLinks, listNetns, removeHostLink, removeNetns } from './network.js';

/** Mount points on the host at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(dir + '/')));
  return mounts.sort((a, b) => b.length - a.length);
}

/** Kills every process of the run, then removes its cgroups, links, netns, mounts, folder and subnet slot. */
export function teardownRun(id: string): void {
  const cgroup = `${PREFIX}${id}`;
  const netnsOfRun = listNetns().filter((name) => runIdOf(name) === id);
  // Processes first: the cgroup holds every daemon, shim and container; a process that got into a node's netns some
  // other way is killed too.
  killCgroup(cgroup);
  for (const ns of netnsOfRun) {
    for (const pid of run('ip', ['netns', 'pids', ns]).split('\n').filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  removeCgroup(cgroup);
  for (const link of listHostLinks().filter((name) => runIdOf(name) === id)) removeHostLink(link);
  for (const ns of netnsOfRun) removeNetns(ns);
  const dir = runDir(id);
  for (const point of mountsUnder(dir)) tryRun('umount', ['-l', point]);
  rmSync(dir, { recursive: true, force: true });
  releaseSlots(id);
}

function releaseSlots(id: string): void {
  const slots = join(STATE_ROOT, 'slots');
  if (!existsSync(slots)) return;
  for (const name of readdirSync(slots)) {
    const link = join(slots, name);
    try {
      if (readlinkSync(link) === id) unlinkSync(link);
    } catch {
      // not a slot link, or released by someone else meanwhile
    }
  }
}

function ownerOf(id: string): { pid: number; startTime: string } | null {
  try {
    return parseOwner(readFileSync(join(runDir(id), 'owner'), 'utf8'));
  } catch {
    return null;
  }
}

/** Every run id something on this machine carries: run folders, netns, host links, cgroups, slot links. */
export function runIdsOnMachine(): Set<string> {
  const ids = new Set<string>();
  if (existsSync(STATE_ROOT)) {
    for (const name of readdirSync(STATE_ROOT)) if (isRunId(name)) ids.add(name);
    const slots = join(STATE_ROOT, 'slots');
    if (existsSync(slots)) {
      for (const name of readdirSync(slots)) {
        try {
          const target = readlinkSync(join(slots, name));
          if (isRunId(target)) ids.add(target);
        } catch {
          // not a link
        }
      }
    }
  }
  for (const name of [...listNetns(), ...listHostLinks(), ...topLevelCgroups()]) {
    const id = runIdOf(`${name}-`) ?? runIdOf(name);
    if (id) ids.add(id);
  }
  return ids;
}

/** Removes the leftovers of every run whose owner process is gone (a killed test run); live runs are untouched. */
export function sweepStaleRuns(): string[] {
  const swept: string[] = [];
  for (const id of runIdsOnMachine()) {
    if (!isStale(ownerOf(id), processStartTime)) continue;
    teardownRun(id);
    swept.push(id);
  }
  return swept;
}

/** What of a run is still on the machine (empty when it is all gone): for tests asserting a clean teardown. */
export function leftoversOf(id: string): string[] {
  const found: string[] = [];
  const cgroup = `${PREFIX}${id}`;
  for (const ns of listNetns()) if (runIdOf(ns) === id) found.push(`netns ${ns}`);
  for (const link of listHostLinks()) if (runIdOf(link) === id) found.push(`link ${link}`);
  for (const hierarchy of hierarchies()) if (existsSync(join(hierarchy, cgroup))) found.push(`cgroup ${join(hierarchy, cgroup)}`);
  const dir = runDir(id);
  for (const point of mountsUnder(dir)) found.push(`mount ${point}`);
  if (existsSync(dir)) found.push(`folder ${dir}`);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) found.push(`process ${entry} ${cmdline.split('\0').join(' ').trim()}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
