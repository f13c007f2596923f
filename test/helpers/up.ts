// Runs `warren up` as a real child process (so it can be killed -9) on a temp tree.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireBuilt } from './cli.js';
import type { TempTree } from './tree.js';

export interface UpProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** Every `warren up` a test started: killed when the test process exits, even after a failed assertion. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** gateway.json, or null while it is missing or caught half-written (it is read again a moment later). */
function readInfo(path: string): { pid: number; url: string } | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

export async function startUp(tree: TempTree, env: NodeJS.ProcessEnv): Promise<UpProcess> {
  const info = join(tree.data, 'gateway.json');
  const child = spawn(process.execPath, [requireBuilt(), 'up', '--tenants', tree.tenants, '--data', tree.data], {
    env: { ...process.env, WARREN_HTTP_PORT: '0', WARREN_WEB_PORT: '0', WARREN_POLL_MS: '50', WARREN_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const parsed = readInfo(info);
    if (parsed) {
      if (parsed.pid === child.pid) return { child, url: parsed.url, stderr: () => err, stop: async () => (child.kill('SIGTERM'), exited) };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`warren up did not come up:\n${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
