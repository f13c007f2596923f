// One node's dockerd: started inside the node's netns, in a mount and UTS namespace of its own, with its own data
// root, exec root, pidfile, socket, config file, trust key and managed containerd. Nothing it mounts (overlay2
// layers, container netns files) is visible on the host: the mounts live and die with its mount namespace.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { NodePlan } from './names.js';
import { prepareCgroup } from './cgroups.js';
import { processStartTime, waitFor } from './host.js';

// Runs as the node's first process, inside its fresh mount namespace, then becomes dockerd.
// - joins the node's daemon cgroup first, so everything it ever starts can be found and killed;
// - a hostname of its own (what Swarm shows as the node's hostname);
// - a sysfs of the node's netns (ip netns exec does the same), keeping the cgroup tree across the remount;
// - an empty /run/containerd: containerd's shims put their sockets under it, and a system containerd's socket there
//   would make dockerd use that instead of starting its own.
const START_SCRIPT = `set -e
echo $$ > "$1"
echo "$2" > /proc/sys/kernel/hostname
mkdir -p "$3"
mount --rbind /sys/fs/cgroup "$3"
umount -l /sys
mount -t sysfs sysfs /sys
mount --move "$3" /sys/fs/cgroup
mkdir -p /run/containerd
mount -t tmpfs -o mode=0711 tmpfs /run/containerd
shift 3
exec dockerd "$@"
`;

export function dockerdArgs(node: NodePlan): string[] {
  return [
    '--config-file', node.configFile,
    '--data-root', node.dataRoot,
    '--exec-root', node.execRoot,
    '--pidfile', node.pidFile,
    '--host', `unix://${node.socketPath}`,
    '--cgroup-parent', node.containerCgroup,
    '--exec-opt', 'native.cgroupdriver=cgroupfs',
    '--swarm-default-advertise-addr', node.address,
  ];
}

/** Starts the node's dockerd (detached: it must survive nothing but our own teardown) and returns its pid. */
export function spawnDockerd(node: NodePlan): number {
  mkdirSync(node.dataRoot, { recursive: true });
  mkdirSync(node.execRoot, { recursive: true });
  // Our own config file: a host /etc/docker/daemon.json must not configure the nodes; our own trust key: the default
  // /etc/docker/key.json would give every node the main daemon's engine ID.
  // no-new-privileges: what docs/scale-out.md asks of every node (Swarm on 20.10 cannot set it per service).
  writeFileSync(node.configFile, JSON.stringify({ 'deprecated-key-path': node.keyFile, 'no-new-privileges': true }) + '\n');
  const procs = prepareCgroup(node.daemonCgroup);
  const log = openSync(node.logFile, 'a');
  try {
    const child = spawn(
      'nsenter',
      [`--net=/run/netns/${node.netns}`, '--', 'unshare', '--mount', '--uts', '--propagation', 'slave', '--',
        'sh', '-c', START_SCRIPT, 'sh', procs, node.hostname, join(node.dir, 'cgroup-move'), ...dockerdArgs(node)],
      // No registry is reachable from a node: a task uses the image the node has instead of trying to pull it first.
      { detached: true, stdio: ['ignore', log, log], cwd: '/', env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' } },
    );
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start dockerd for node ${node.name}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function logTail(node: NodePlan, lines = 20): string {
  try {
    return readFileSync(node.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits until the node's dockerd answers on its socket; fails early, with its log, if the process dies. */
export async function waitForDockerd(node: NodePlan, pid: number, docker: Docker, timeoutMs = 60_000): Promise<void> {
  const started = processStartTime(pid);
  await waitFor(
    async () => {
      if (!existsSync(node.socketPath)) return undefined;
      await docker.ping();
      return true;
    },
    timeoutMs,
    (gaveUp) =>
      `dockerd of node ${node.name} ${gaveUp ?? `did not answer on ${node.socketPath} within ${timeoutMs / 1000} s`}; ` +
      `last lines of ${node.logFile}:\n${logTail(node)}`,
    () => (started === null || processStartTime(pid) !== started ? 'exited' : null),
  );
}

/** SIGKILL to the node's dockerd only: its managed containerd dies with it (parent-death signal); shims and their
 * containers keep running, as on a machine whose engine crashed. Resolves once dockerd and its containerd are dead.
 * The containerd pidfile goes too: a dead containerd may stay a zombie for a while (its parent is gone and not every
 * init reaps promptly), and a dockerd started again would take the zombie for a live containerd, adopt it and time out. */
export async function killDockerd(node: NodePlan, pid: number): Promise<void> {
  const pidFile = join(node.execRoot, 'containerd', 'containerd.pid');
  let containerd: number | null = null;
  try {
    containerd = Number(readFileSync(pidFile, 'utf8').trim()) || null;
  } catch {
    // never started
  }
  await killAndWait(pid);
  if (containerd !== null) await killAndWait(containerd);
  rmSync(pidFile, { force: true });
}

async function killAndWait(pid: number): Promise<void> {
  const started = processStartTime(pid);
  if (started === null) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return; // already gone
  }
  await waitFor(
    async () => (processStartTime(pid) === started ? undefined : true),
    10_000,
    () => `process ${pid} did not die after SIGKILL`,
  );
}
