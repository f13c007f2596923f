// The runner's logs: one JSON object per line on stderr. Not pino: the runner is a single bundled file and pino's
// worker-thread machinery does not bundle cleanly. stdout/stderr are logs only; the turn's result goes to gated.
// Nothing here ever receives the turn's env (secrets): callers log names and counts, never values.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface RunnerLog {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function levelFrom(value: string | undefined): Level {
  return value === 'debug' || value === 'info' || value === 'warn' || value === 'error' ? value : 'info';
}

export function runnerLog(
  component: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
  level: Level = levelFrom(process.env.WARREN_LOG_LEVEL),
): RunnerLog {
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[lvl] < RANK[level]) return;
    const record = { level: lvl, time: new Date().toISOString(), pid: process.pid, component, msg, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record, (_key, value: unknown) =>
        value instanceof Error ? { name: value.name, message: value.message } : value,
      );
    } catch {
      line = JSON.stringify({ level: lvl, component, msg });
    }
    write(line + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
