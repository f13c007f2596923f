// The claude-code harness: runs the `claude` CLI for one turn with the invocation built in invocation.ts. The MCP
// config goes to a private temp folder (tmpfs in the container) and is removed afterwards; secrets only ever travel
// in the child's environment.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import type { TurnInput, TurnResult } from '../../../../core/turn.js';
import { runnerLog, type RunnerLog } from '../log.js';
import { buildClaudeInvocation, CLAUDE_COMMAND } from './invocation.js';
import { describeRetry, keptEvent, lastApiRetry, parseClaudeOutput, sessionNotFound } from './output.js';

export const CLAUDE_MISSING =
  'claude-code harness: the claude CLI is not in this image; build it with `warren images build --with-claude-code` (or --dockerfile)';
/** A longer stdout line (one event) is dropped: the result is capped at 64 KiB on the way out anyway. */
const MAX_STDOUT_LINE = 16 * 1024 * 1024;
const STDERR_TAIL = 2048;
const MAX_LOG_LINE = 4096;

/** The first executable file called `name` on PATH, or null. */
export function findOnPath(name: string, pathValue: string | undefined): string | null {
  for (const dir of (pathValue ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue; // relative PATH entries would depend on the working directory
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* not here */
    }
  }
  return null;
}

export interface ClaudeDeps {
  /** The persona body and the <skills> block: appended to Claude Code's system prompt. */
  personaBody: string;
  /** Folders whose .claude/skills Claude Code loads (the tenant's and the built-in skills). */
  addDirs?: readonly string[];
  socket: string;
  runner: string;
  /** The environment the CLI inherits before the turn's env is laid over it. */
  baseEnv: NodeJS.ProcessEnv;
  log: RunnerLog;
  signal?: AbortSignal;
}

export async function runClaudeHarness(turn: TurnInput, deps: ClaudeDeps): Promise<TurnResult> {
  const claude = findOnPath(CLAUDE_COMMAND, deps.baseEnv.PATH);
  if (!claude) return { status: 'error', result: CLAUDE_MISSING };
  const dir = mkdtempSync(join(tmpdir(), 'warren-claude-'));
  try {
    const paths = { node: process.execPath, runner: deps.runner, socket: deps.socket, mcpConfigFile: join(dir, 'mcp.json') };
    const inv = buildClaudeInvocation(turn, deps.personaBody, paths, deps.baseEnv, deps.addDirs);
    writeFileSync(join(dir, 'mcp.json'), JSON.stringify(inv.mcpConfig, null, 2) + '\n', { mode: 0o600 });
    deps.log.info('starting claude', { claude, resume: turn.session !== null, model: turn.model, envNames: Object.keys(turn.env).length });
    let run = await spawnCollect(claude, inv.args, inv.env, deps);
    if (turn.session && !deps.signal?.aborted && sessionNotFound(run.stderrTail)) {
      // The session's files are gone (a wiped or restored home): a new session, or every later turn fails alike.
      deps.log.warn('claude has no such session; starting a new one', { resume: false });
      const fresh = buildClaudeInvocation({ ...turn, session: null }, deps.personaBody, paths, deps.baseEnv, deps.addDirs);
      run = await spawnCollect(claude, fresh.args, fresh.env, deps);
    }
    const parsed = parseClaudeOutput(run.stdout);
    if (parsed.ok) {
      deps.log.info('claude finished', { code: run.code, isError: parsed.isError, session: parsed.session !== null });
      return { status: parsed.isError ? 'error' : 'ok', result: parsed.text, session: parsed.session ?? turn.session };
    }
    // A stop request (the gateway's time limit, docker stop) reaches claude through our abort, whatever it exits with.
    const how = deps.signal?.aborted
      ? 'was stopped before it answered (the turn’s time limit or a stop request)'
      : run.signal
        ? `was killed by ${run.signal}`
        : `exited with code ${run.code}`;
    const retry = lastApiRetry(run.stdout);
    const why = retry ? `; ${describeRetry(retry)}` : '';
    const tail = run.stderrTail.trim();
    deps.log.info('claude gave no answer', { code: run.code, signal: run.signal, apiStatus: retry?.status ?? null });
    return {
      status: 'error',
      result: `claude-code harness: claude ${how} and gave no usable answer (${parsed.error})${why}${tail ? `: ${tail}` : ''}`,
      session: turn.session,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Collected {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderrTail: string;
}

function spawnCollect(command: string, args: string[], env: Record<string, string>, deps: ClaudeDeps): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], signal: deps.signal });
    // stdout is one event per line; only the last result and the last API retry are kept (a long session prints a
    // lot), and the last other line, so "no answer" can still tell garbage from silence.
    const last = { result: '', retry: '', other: '' };
    let line = '';
    const keep = (text: string) => {
      const kind = keptEvent(text);
      if (kind) last[kind] = text;
      else if (text.trim() !== '') last.other = text.slice(0, 4096);
    };
    let tail = '';
    let partial = '';
    // claude's own diagnostics become log records like ours, one per line.
    const claudeLog = runnerLog('claude');
    const logLines = (text: string, flush: boolean) => {
      const lines = (partial + text).split('\n');
      partial = flush ? '' : lines.pop()!;
      for (const line of lines) if (line.trim() !== '') claudeLog.info(line.slice(0, MAX_LOG_LINE));
      if (partial.length > MAX_LOG_LINE) {
        claudeLog.info(partial.slice(0, MAX_LOG_LINE));
        partial = '';
      }
    };
    child.stdout.setEncoding('utf8');
    let oversized = false; // inside an event longer than MAX_STDOUT_LINE: dropped up to its newline
    child.stdout.on('data', (text: string) => {
      const parts = (line + text).split('\n');
      line = parts.pop()!;
      for (const p of parts) {
        if (!oversized) keep(p);
        oversized = false;
      }
      if (line.length > MAX_STDOUT_LINE) {
        oversized = true;
        line = '';
      }
    });
    child.stderr.setEncoding('utf8'); // decodes characters split across chunks
    child.stderr.on('data', (text: string) => {
      logLines(text, false);
      tail = (tail + text).slice(-STDERR_TAIL);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.name === 'AbortError') return; // 'close' follows with the signal
      reject(new Error(`claude-code harness: cannot run ${command}: ${error.code ?? error.message}`));
    });
    child.on('close', (code, signal) => {
      logLines('', true);
      if (!oversized) keep(line);
      const events = [last.retry, last.result].filter(Boolean);
      resolve({ code, signal, stdout: events.length > 0 ? events.join('\n') : last.other, stderrTail: tail });
    });
  });
}
