// Structured logging: one pino root logger, children per component. Logs go to stderr so that stdout stays free for
// protocol traffic (`warren connect`) and command output. A person at a terminal reads them pretty-printed; anything
// reading a pipe or a file gets one JSON object per line.
import { pino, type Logger } from 'pino';
import pinoPretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

/** WARREN_LOG_FORMAT wins; otherwise pretty when stderr is a terminal, JSON when it is a pipe or a file. */
export function logFormat(setting: string | undefined, stderrIsTerminal: boolean): LogFormat {
  if (setting === undefined || setting === '') return stderrIsTerminal ? 'pretty' : 'json';
  if (setting === 'json' || setting === 'pretty') return setting;
  throw new Error(`WARREN_LOG_FORMAT must be "json" or "pretty", not ${JSON.stringify(setting)}`);
}

let root: Logger | undefined;

export function rootLogger(): Logger {
  if (!root) {
    const terminal = process.stderr.isTTY === true;
    const format = logFormat(process.env.WARREN_LOG_FORMAT, terminal);
    // Synchronous writes in both forms (no worker transport), so the last lines before an exit are never lost.
    const destination =
      format === 'json'
        ? pino.destination({ fd: 2, sync: true })
        : pinoPretty({
            destination: 2,
            sync: true,
            colorize: terminal && process.env.NO_COLOR === undefined,
            translateTime: 'SYS:HH:MM:ss.l',
            singleLine: true,
            ignore: 'pid,hostname,component',
            messageFormat: '{if component}[{component}] {end}{msg}',
          });
    root = pino(
      {
        level: process.env.WARREN_LOG_LEVEL ?? 'info',
        base: { pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      destination,
    );
  }
  return root;
}

// pino appends a child's bindings to its parent's, so binding `component` twice writes the key twice in one line.
// Each component logger remembers the logger it was made from; a component logger made from it starts from there.
const withoutComponent = new WeakMap<Logger, Logger>();

/** `parent`'s logger for `component`: replaces the parent's component rather than repeating it. */
export function componentLogger(parent: Logger, component: string): Logger {
  const base = withoutComponent.get(parent) ?? parent;
  const child = base.child({ component });
  withoutComponent.set(child, base);
  return child;
}

export function logger(component: string): Logger {
  return componentLogger(rootLogger(), component);
}

/** A logger that drops everything (tests and benchmarks that do not want noise). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
