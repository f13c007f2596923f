// A run's output as log lines, the same on every runtime: scrubbed of secrets, cut to a line length, within a per-run
// byte budget, then logged and handed to the live output. Both engines feed their streams through here.
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '../../core/log.js';

export const MAX_LINE = 8 * 1024;
/** Output logged per run before the rest is dropped, unless the run says otherwise. */
export const DEFAULT_MAX_LOG_BYTES = 1024 * 1024;

export interface OutputOptions {
  maxLogBytes?: number;
  redact?: (line: string) => string;
  onLine?: (line: string) => void;
}

/**
 * Container output as log records, one per line, scrubbed of secrets BEFORE anything is cut: a line longer than
 * MAX_LINE is logged as its first MAX_LINE characters (the rest, up to the newline, is dropped), and it is scrubbed
 * while up to twice that is still held, so a secret straddling the cut is never half printed.
 */
function logLines(
  stream: Readable,
  emit: (line: string) => void,
  budget: { left: number; dropped: boolean },
  scrub: (line: string) => string,
): void {
  let pending = '';
  let discarding = false;
  const decoder = new StringDecoder('utf8'); // a character split across chunks must not split a secret
  const flush = (line: string, truncated: boolean) => {
    if (budget.left <= 0) {
      budget.dropped = true;
      return;
    }
    const clean = scrub(line);
    const cut = truncated || clean.length > MAX_LINE ? `${clean.slice(0, MAX_LINE)}…` : clean;
    budget.left -= cut.length;
    emit(cut);
  };
  stream.on('data', (chunk: Buffer) => {
    pending += decoder.write(chunk);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      if (!discarding) flush(pending.slice(0, nl), false);
      discarding = false;
      pending = pending.slice(nl + 1);
    }
    if (discarding) pending = '';
    else if (pending.length > 2 * MAX_LINE) {
      flush(pending, true);
      pending = '';
      discarding = true;
    }
  });
  stream.on('end', () => {
    pending += decoder.end();
    if (pending.length > 0 && !discarding) flush(pending, false);
  });
}

/** One run's output: `follow` each of its streams; `dropped` says whether the budget cut anything. */
export function runOutput(opts: OutputOptions, log: Logger) {
  const budget = { left: opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES, dropped: false };
  const scrub = opts.redact ?? ((line: string) => line);
  return {
    follow(stream: Readable, name: 'stdout' | 'stderr'): void {
      logLines(stream, (line) => {
        log.info({ stream: name }, line);
        opts.onLine?.(line);
      }, budget, scrub);
    },
    get dropped() {
      return budget.dropped;
    },
  };
}
