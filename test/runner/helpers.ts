// Shared by the runner tests: the real bundle (built fresh into a temp folder by scripts/bundle-runner.mjs), run as a
// child process the way the container runs it, and turn builders.
import { afterAll, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TURN_VERSION, type TurnInput, type TurnMessage } from '../../core/turn.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BUNDLE_SCRIPT = join(REPO, 'scripts', 'bundle-runner.mjs');

export interface BuiltRunner {
  dir: string;
  main: string;
  /** esbuild's metafile for this build. */
  meta: { inputs: Record<string, unknown>; outputs: Record<string, { imports: { path: string; external?: boolean }[] }> };
  cleanup(): void;
}

/** A bundled runner for the duration of a describe block. */
export function useBuiltRunner(): { readonly runner: BuiltRunner } {
  const fixture = {} as { runner: BuiltRunner };
  beforeAll(() => {
    fixture.runner = buildRunner();
  });
  afterAll(() => fixture.runner?.cleanup());
  return fixture;
}

/** Bundles the runner into a fresh temp folder (outside the repo: no node_modules or package.json above it). */
export function buildRunner(): BuiltRunner {
  const dir = mkdtempSync(join(tmpdir(), 'warren-'));
  const main = join(dir, 'runner', 'main.js');
  const metafile = join(dir, 'meta.json');
  const r = spawnSync(process.execPath, [BUNDLE_SCRIPT, '--outfile', main, '--metafile', metafile], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bundle-runner failed (${r.status}): ${r.stderr}`);
  return {
    dir,
    main,
    meta: JSON.parse(readFileSync(metafile, 'utf8')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface RunOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundle asynchronously (gated lives in this process and must keep answering while the runner works). */
export function runRunner(
  main: string,
  input: string,
  options: { env?: NodeJS.ProcessEnv; args?: string[]; cwd?: string } = {},
): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...(options.args ?? [])], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH, WARREN_LOG_LEVEL: 'debug', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // the runner may exit before reading everything
    child.stdin.end(input);
  });
}

export function message(text: string, extra: Partial<TurnMessage> = {}): TurnMessage {
  return { id: 1, kind: 'chat', sender: 'local:ann', chat: 'local:ann', text, at: '2026-01-01T00:00:00.000Z', ...extra };
}

export function turnInput(extra: Partial<TurnInput> & { messages?: TurnMessage[] } = {}): TurnInput {
  return {
    version: TURN_VERSION,
    tenant: 'acme',
    run: 'run-1',
    topic: 'main',
    session: null,
    harness: 'script',
    model: null,
    messages: [message('hello')],
    env: {},
    ...extra,
  };
}

export interface LogRecord {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** The runner's stderr as log records; every line must be one JSON object. */
export function logRecords(stderr: string): LogRecord[] {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogRecord);
}

/** The messages of the runner's error records, one per line. */
export function errorsLogged(stderr: string): string {
  return logRecords(stderr)
    .filter((r) => r.level === 'error')
    .map((r) => `${r.msg}${r.err ? ` ${JSON.stringify(r.err)}` : ''}`)
    .join('\n');
}
