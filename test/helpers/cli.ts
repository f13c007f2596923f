// Runs the built `warren` command (npm test builds it first with `pretest`).
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const WARREN_JS = fileURLToPath(new URL('../../dist/cli/warren.js', import.meta.url));

export function requireBuilt(): string {
  if (!existsSync(WARREN_JS)) throw new Error(`${WARREN_JS} is missing: run "npm run build" (npm test does it first)`);
  return WARREN_JS;
}

export function warren(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [requireBuilt(), ...args], {
    encoding: 'utf8',
    input: options.input,
    cwd: options.cwd,
    env: { ...process.env, WARREN_LOG_LEVEL: 'warn', ...options.env },
    timeout: 60_000,
  });
}

/** Like warren(), without blocking the event loop: for commands that talk to a gated running in the test process. */
export function warrenAsync(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [requireBuilt(), ...args], {
      cwd: options.cwd,
      env: { ...process.env, WARREN_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
