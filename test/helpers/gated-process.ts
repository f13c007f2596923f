// Runs `warren gated` (the built CLI) as a real child process, so a test can read its memory, signal it, start a
// second one or kill -9 it; and the hostile clients of issue 8 against its sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tenantSocketPath } from '../../gated/broker.js';
import { requireBuilt } from './cli.js';
import type { TempTree } from './tree.js';
import { eventually } from './wait.js';
import { callFrame, initFrame } from './raw-socket.js';

export interface GatedProcess {
  child: ChildProcess;
  socketPath(tenant: string): string;
  /** Resident memory of the process, in bytes (VmRSS from /proc). */
  rss(): number;
  stderr(): string;
  /** Resolves with the exit code (or the signal that ended it). */
  exited: Promise<number | NodeJS.Signals | null>;
}

/** Every gated a test started: killed when the test process exits, even after a failed assertion. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** Starts the built `warren gated` on a tree; `exited` resolves with its exit code, or the signal that ended it. */
export function spawnGated(tenants: string, data: string, env: NodeJS.ProcessEnv = {}): GatedProcess {
  const child = spawn(process.execPath, [requireBuilt(), 'gated', '--tenants', tenants, '--data', data], {
    env: { ...process.env, WARREN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal);
    }),
  );
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return {
    child,
    socketPath: (tenant: string) => tenantSocketPath(data, tenant),
    rss: () => vmRss(child.pid!),
    stderr: () => err,
    exited,
  };
}

/** Starts `warren gated` and resolves once it logs that it is ready; throws with its output if it exits first. */
export async function startGated(tenants: string, data: string, timeoutMs = 30_000): Promise<GatedProcess> {
  const p = spawnGated(tenants, data);
  const deadline = Date.now() + timeoutMs;
  while (!p.stderr().includes('"gated ready"')) {
    if (p.child.exitCode !== null || p.child.signalCode !== null || Date.now() > deadline) {
      p.child.kill('SIGKILL');
      throw new Error(`warren gated did not come up:\n${p.stderr()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}

/** Sends `signal` and resolves with how it exited, or rejects when the process has not exited within `ms`. */
export async function stopWithin(p: GatedProcess, ms: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | NodeJS.Signals | null> {
  p.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`warren gated did not exit within ${ms} ms of ${signal}:\n${p.stderr()}`)), ms);
  });
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts `warren gated` (logging warnings only) and resolves once every tenant in `tenants` answers on its socket. */
export async function startGatedProcess(tree: TempTree, tenants: string[], env: NodeJS.ProcessEnv = {}): Promise<GatedProcess> {
  const p = spawnGated(tree.tenants, tree.data, { WARREN_LOG_LEVEL: 'warn', ...env });
  await eventually(
    async () => {
      if (p.child.exitCode !== null) throw new Error(`warren gated exited with ${p.child.exitCode}:\n${p.stderr()}`);
      return (await Promise.all(tenants.map((t) => canConnect(p.socketPath(t))))).every(Boolean);
    },
    `warren gated serving ${tenants.join(', ')}`,
  );
  return p;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export function vmRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  if (!line) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(line.split(/\s+/)[1]) * 1024;
}

export interface NeverReadingClient {
  socket: Socket;
  /** Frames written so far. */
  written(): number;
  /** True while its writes wait: gated has stopped reading from it. */
  blocked(): boolean;
}

/**
 * A client that initialises, then writes tools/call frames as fast as the socket takes them and never reads a
 * reply. Returns the socket (destroy it to make the client vanish) and a count of frames written so far.
 */
export async function neverReadingClient(path: string, tool = 'whoami'): Promise<NeverReadingClient> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  socket.pause(); // nothing is ever read: replies pile up in gated
  let id = 1;
  socket.write(initFrame(0));
  const pump = () => {
    while (!socket.destroyed) {
      if (!socket.write(callFrame(id++, tool, {}))) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
  return { socket, written: () => id - 1, blocked: () => socket.writableNeedDrain };
}

/** A client that sends half an initialize frame and then nothing. */
export async function halfFrameClient(path: string): Promise<Socket> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  const init = initFrame(0);
  socket.write(init.slice(0, Math.floor(init.length / 2)));
  return socket;
}
