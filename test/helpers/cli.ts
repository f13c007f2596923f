// Runs the built `warren` command (npm test builds it first with `pretest`).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
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
