// Runs `warren gated` (the built CLI) as a real child process, so a test can start a second one or kill -9 it.
import { spawn, type ChildProcess } from 'node:child_process';
import { requireBuilt } from './cli.js';

export interface GatedProcess {
  child: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Every process a test started: killed when the test process exits, even after a failed assertion. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export function spawnGated(tenants: string, data: string): GatedProcess {
  const child = spawn(process.execPath, [requireBuilt(), 'gated', '--tenants', tenants, '--data', data], {
    env: { ...process.env, WARREN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, stderr: () => err, exited };
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

/** Sends `signal` and resolves with the exit code, or rejects when the process has not exited within `ms`. */
export async function stopWithin(p: GatedProcess, ms: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
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
