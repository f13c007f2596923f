// Small synchronous host operations the harness is built from: run a command, read a process's start time, sleep.
// Synchronous on purpose: the same teardown runs from close(), from the start-up sweep and from a process 'exit'
// hook, where nothing asynchronous gets to run.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Runs a command and returns its stdout; throws with the command line and its stderr when it fails. */
export function run(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** Like run, but a failure is fine (teardown of something that may already be gone). */
export function tryRun(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The start time of a live process (field 22 of /proc/<pid>/stat), or null when there is no such process. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` (an error counts as "not yet") until it returns a value or `timeoutMs` passes, then throws
 * `failure()`'s message. `gaveUp`, when it returns a reason, ends the wait at once (the thing waited for died).
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  failure: (gaveUp?: string) => string,
  gaveUp: () => string | null = () => null,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reason = gaveUp();
    if (reason) throw new Error(failure(reason));
    let value: T | undefined;
    try {
      value = await check();
    } catch {
      value = undefined;
    }
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(failure());
    await sleep(200);
  }
}
