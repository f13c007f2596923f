// Runs one agent container to completion: create, attach, start, feed the turn on stdin, and wait until Docker has
// removed it. Output lines are logs (results travel through gated); the outcome says how the run ended.
//
// How we know the ending: we subscribe to the container's events before starting it (with `since` set before the
// create, so nothing is missed even though the daemon subscribes after answering) and read them to the end:
//   oom     -> the kernel's memory-cgroup OOM killer hit the container (Docker's own OOMKilled flag comes from this
//              same event, but with AutoRemove the flag is gone by the time anyone could inspect it)
//   die     -> the exit code
//   destroy -> AutoRemove is done; only then do we return, so a finished run never leaves a container behind.
// We do NOT infer OOM from exit code 137: that is also what our own timeout kill and any SIGKILL produce.
import type Docker from 'dockerode';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import type { Logger } from '../core/log.js';
import { assertCanonicalMountSources } from './container-spec.js';
import { runOutput } from './runtime/output-lines.js';

export interface RunOptions {
  /** The turn, written to the container's stdin and then closed. */
  stdin: string;
  /** Wall-clock limit from start; then `docker stop` (SIGTERM, grace, SIGKILL). */
  timeoutMs: number;
  /** Seconds between SIGTERM and SIGKILL at the timeout (default 5). */
  stopGraceS?: number;
  log: Logger;
  /** Output logged per run before the rest is dropped (default 1 MiB): a chatty agent cannot flood the logs. */
  maxLogBytes?: number;
  /** Scrubs secret values from output lines before they are logged. */
  redact?: (line: string) => string;
  /** Each output line as it is logged (scrubbed, cut, within the budget): the run's live output. */
  onLine?: (line: string) => void;
}

export interface RunResult {
  /** The main process's exit status; null when Docker could not tell us. */
  exitCode: number | null;
  timedOut: boolean;
  oomKilled: boolean;
  durationMs: number;
  containerId: string;
  /**
   * A cluster runtime lost the node it ran on: how it ended is unknown, and it may still be running there. The turn
   * loop revokes its access and runs the turn again once (never set by the local runtime).
   */
  lost?: boolean;
}

/** After the exit, how long Docker may take to remove the container before we remove it ourselves. */
const REMOVE_GRACE_MS = 30_000;

interface ContainerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number } | null)?.statusCode;
}

/**
 * Follows one container's event stream: `died` resolves on 'die' (with the exit code), `destroyed` on 'destroy';
 * 'oom' is remembered. Both reject if the stream breaks first (then the outcome is unknown and the caller cleans up).
 */
function watchEvents(stream: Readable) {
  let oom = false;
  let exitCode: number | null = null;
  let isDead = false;
  let buf = '';
  let onDie!: () => void;
  let onDestroy!: () => void;
  let onBroken!: (e: Error) => void;
  const died = new Promise<void>((resolve, reject) => {
    onDie = resolve;
    onBroken = reject;
  });
  const destroyed = new Promise<void>((resolve, reject) => {
    onDestroy = resolve;
    const prev = onBroken;
    onBroken = (e) => {
      prev(e);
      reject(e);
    };
  });
  // Rejections are awaited later by the caller; these keep them from counting as unhandled meanwhile.
  died.catch(() => {});
  destroyed.catch(() => {});
  stream.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line === '') continue;
      let ev: ContainerEvent;
      try {
        ev = JSON.parse(line) as ContainerEvent;
      } catch {
        continue;
      }
      const action = ev.Action ?? ev.status ?? '';
      if (action === 'oom') oom = true;
      else if (action === 'die') {
        const code = Number(ev.Actor?.Attributes?.exitCode);
        exitCode = Number.isInteger(code) ? code : null;
        isDead = true;
        onDie();
      } else if (action === 'destroy') {
        isDead = true;
        onDie();
        onDestroy();
      }
    }
  });
  stream.on('error', (e: Error) => onBroken(e));
  stream.on('end', () => onBroken(new Error('Docker event stream ended before the container was removed')));
  stream.on('close', () => onBroken(new Error('Docker event stream closed before the container was removed')));
  return {
    died,
    destroyed,
    get oom() {
      return oom;
    },
    get exitCode() {
      return exitCode;
    },
    get isDead() {
      return isDead;
    },
  };
}

async function ignoreGone(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (error) {
    // 304 already stopped, 404 already removed, 409 removal already in progress: all mean "nothing left to do".
    if (![304, 404, 409].includes(statusCode(error) ?? 0)) throw error;
  }
}

async function forceRemove(container: Docker.Container, log: Logger): Promise<void> {
  try {
    await ignoreGone(container.remove({ force: true }));
  } catch (error) {
    log.error({ err: error, containerId: container.id }, 'could not remove container');
  }
}

export async function runContainer(
  docker: Docker,
  createOptions: Docker.ContainerCreateOptions,
  opts: RunOptions,
): Promise<RunResult> {
  assertCanonicalMountSources(createOptions);
  const log = opts.log;
  const grace = opts.stopGraceS ?? 5;
  // Events are kept by the daemon with second resolution; one second of slack before the create.
  const since = Math.floor(Date.now() / 1000) - 1;

  const container = await docker.createContainer(createOptions);
  const clog = log.child({ containerId: container.id.slice(0, 12), name: createOptions.name });
  let events: Readable | undefined;
  let attached: Duplex | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  let startedAt = Date.now();
  let endedAt: number | undefined;

  try {
    events = (await docker.getEvents({
      since,
      filters: { type: ['container'], container: [container.id] },
    })) as unknown as Readable;
    const watch = watchEvents(events);
    void watch.died.then(
      () => {
        endedAt ??= Date.now();
        if (timer) clearTimeout(timer);
      },
      () => {},
    );

    attached = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as unknown as Duplex;
    attached.on('error', (error) => clog.debug({ err: error }, 'attach stream error'));
    const out = new PassThrough();
    const err = new PassThrough();
    docker.modem.demuxStream(attached, out, err);
    attached.on('end', () => {
      out.end();
      err.end();
    });
    const output = runOutput(opts, clog);
    output.follow(out, 'stdout');
    output.follow(err, 'stderr'); // the runner logs to stderr; levels are its own

    startedAt = Date.now();
    await container.start();
    attached.end(opts.stdin);

    timer = setTimeout(() => {
      if (watch.isDead) return;
      timedOut = true;
      clog.warn({ timeoutMs: opts.timeoutMs }, 'run timed out; stopping container');
      // docker stop = SIGTERM, `grace` seconds, SIGKILL. The extra kill covers a stop that failed part way.
      ignoreGone(container.stop({ t: grace }))
        .catch((error) => clog.warn({ err: error }, 'stop failed'))
        .then(() => (watch.isDead ? undefined : ignoreGone(container.kill())))
        .catch((error) => clog.error({ err: error }, 'kill failed'));
    }, opts.timeoutMs);

    await watch.died;
    // AutoRemove takes a moment after the exit; if it does not happen (or was not asked for), remove it ourselves.
    const autoRemove = createOptions.HostConfig?.AutoRemove === true;
    let removeTimer: NodeJS.Timeout | undefined;
    const removed = await Promise.race([
      watch.destroyed.then(() => true),
      new Promise<boolean>((resolve) => {
        removeTimer = setTimeout(() => resolve(false), autoRemove ? REMOVE_GRACE_MS : 0);
      }),
    ]).finally(() => clearTimeout(removeTimer));
    if (!removed) {
      await forceRemove(container, clog);
      await watch.destroyed;
    }
    if (output.dropped) clog.warn('container output above the log budget was dropped');

    const result: RunResult = {
      exitCode: watch.exitCode,
      timedOut,
      oomKilled: watch.oom,
      durationMs: (endedAt ?? Date.now()) - startedAt,
      containerId: container.id,
    };
    clog.info({ ...result, containerId: undefined }, 'container finished');
    return result;
  } catch (error) {
    await forceRemove(container, clog);
    throw error;
  } finally {
    if (timer) clearTimeout(timer);
    events?.destroy();
    attached?.destroy();
  }
}
