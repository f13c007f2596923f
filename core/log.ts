// Structured logging: one pino root logger, children per component. Logs go to stderr so that stdout stays free for
// protocol traffic (`warren connect`) and command output.
import { pino, type Logger } from 'pino';

export type { Logger };

let root: Logger | undefined;

export function rootLogger(): Logger {
  if (!root) {
    root = pino(
      {
        level: process.env.WARREN_LOG_LEVEL ?? 'info',
        base: { pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      pino.destination({ fd: 2, sync: true }),
    );
  }
  return root;
}

export function logger(component: string): Logger {
  return rootLogger().child({ component });
}

/** A logger that drops everything (tests and benchmarks that do not want noise). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
