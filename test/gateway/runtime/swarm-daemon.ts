// A single-node Swarm for tests: its own dockerd (data root, exec root, socket, containerd namespace) in its own
// network namespace with one veth pair, so `docker swarm init` never touches the main daemon other tests use. The
// agent image is copied in from the main daemon. Needs root (as the Docker tests here already do).
// The multi-node harness (test/helpers/cluster/) supersedes this once it lands.
import Docker from 'dockerode';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SwarmDaemon {
  docker: Docker;
  socketPath: string;
  close(): Promise<void>;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' });

export async function startSwarmDaemon(images: string[]): Promise<SwarmDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-swarm-'));
  const tag = `${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  const ns = `wsr${tag}`;
  const socketPath = join(dir, 'docker.sock');
  sh('ip', ['netns', 'add', ns]);
  const inNs = (...args: string[]) => sh('ip', ['netns', 'exec', ns, ...args]);
  inNs('ip', 'link', 'set', 'lo', 'up');
  inNs('ip', 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
  inNs('ip', 'addr', 'add', '10.213.0.1/24', 'dev', 'v0');
  inNs('ip', 'link', 'set', 'v0', 'up');
  inNs('ip', 'link', 'set', 'v1', 'up');
  // nsenter, not `ip netns exec`: that remounts /sys, and dockerd then finds no cgroups.
  const daemon: ChildProcess = spawn(
    'nsenter',
    [
      `--net=/run/netns/${ns}`, 'dockerd',
      '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'),
      '-H', `unix://${socketPath}`, '--iptables=false', '--ip-masq=false', '--bridge=none',
      '--containerd-namespace', ns, '--containerd-plugins-namespace', `${ns}p`,
      // What docs/scale-out.md asks of every node: Swarm cannot set it per service on 20.10.
      '--no-new-privileges',
    ],
    { stdio: 'ignore' },
  );
  const docker = new Docker({ socketPath });
  const close = async () => {
    daemon.kill('SIGTERM');
    await new Promise((resolve) => (daemon.exitCode !== null ? resolve(null) : daemon.once('exit', resolve)));
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      try {
        await docker.ping();
        break;
      } catch (error) {
        if (i > 100 || daemon.exitCode !== null) throw new Error(`the test dockerd did not start: ${(error as Error).message}`);
        await sleep(200);
      }
    }
    await docker.swarmInit({ ListenAddr: '10.213.0.1:2377', AdvertiseAddr: '10.213.0.1' });
    const main = new Docker();
    for (const image of images) {
      const tar = await main.getImage(image).get();
      const loaded = await docker.loadImage(tar);
      await new Promise((resolve, reject) => docker.modem.followProgress(loaded, (err) => (err ? reject(err) : resolve(null))));
    }
    return { docker, socketPath, close };
  } catch (error) {
    await close();
    throw error;
  }
}
