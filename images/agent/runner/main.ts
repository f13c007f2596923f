// The in-container agent runner: `node /opt/warren/runner/main.js` (the image ENTRYPOINT), bundled into one CommonJS
// file. Two modes:
//   (no argument)  read one TurnInput on stdin, run its harness, report with `warren/submit_turn` on the gated
//                  socket (or on the runner's own relay to the HTTPS endpoint the turn names, TurnInput.gated). Exit 0 once the report is accepted; 1 when it could not be made; 2 for a bad turn.
//                  A coordinator's turn (TurnInput.coordinator) is followed by `warren/next_turn` requests, one
//                  turn after another, until gated answers "stop" (exit 0).
//   bridge         a byte pump between stdio and the gated socket (the MCP server Claude Code launches).
// stdout and stderr are logs only (and, in bridge mode, stdout is the MCP stream); the result goes to gated.
import { resolve } from 'node:path';
import { bridge } from '../../../gated/bridge.js';
import { CONTAINER_PATHS } from '../../../core/container.js';
import { GatedClient } from './gated-client.js';
import { startRelay, type Relay } from './gated-relay.js';
import { runnerLog } from './log.js';
import { personaFile } from './persona.js';
import { runTurn } from './run-turn.js';
import { parseTurn, readTurnText } from './turn-input.js';
import type { TurnInput } from '../../../core/turn.js';

const log = runnerLog('runner');

async function main(argv: string[]): Promise<number> {
  const mode = argv[2];
  let socket = process.env.WARREN_GATED_SOCKET || CONTAINER_PATHS.socket;
  if (mode === 'bridge') return bridge(socket, { stdin: process.stdin, stdout: process.stdout });
  if (mode !== undefined) {
    log.error(`unknown mode "${mode}": run with no argument (a turn on stdin) or with "bridge"`);
    return 2;
  }

  let text: string;
  try {
    text = await readTurnText(process.env, process.stdin);
  } catch (error) {
    log.error((error as Error).message);
    return 2;
  }
  const parsed = parseTurn(text);
  if (!parsed.ok) {
    log.error(parsed.error);
    return 2;
  }
  const turn = parsed.turn;
  const about = { tenant: turn.tenant, run: turn.run, topic: turn.topic, harness: turn.harness, messages: turn.messages.length };
  log.info('turn received', about);

  // A turn that names gated's HTTPS endpoint gets the run socket from the runner itself, relayed to gated.
  let relay: Relay | null = null;
  if (turn.gated) {
    try {
      relay = await startRelay(turn.gated, log);
    } catch (error) {
      log.error('cannot relay to gated', { ...about, url: turn.gated.url, err: error });
      return 1;
    }
    socket = relay.socketPath;
  }

  let client: GatedClient;
  try {
    client = await GatedClient.connect(socket);
  } catch (error) {
    log.error('cannot report this turn', { ...about, err: error });
    await relay?.close();
    return 1;
  }

  // A stop request (the gateway's timeout) ends the harness; the turn is still reported, as an error. Repeated
  // requests do not cut that report short (the container's stop grace period and SIGKILL bound it).
  const abort = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) return;
    log.warn('stopping the harness', { signal });
    abort.abort();
  };
  process.on('SIGTERM', stop).on('SIGINT', stop);

  const deps = {
    tools: client,
    lister: client,
    socket,
    runner: resolve(argv[1] ?? CONTAINER_PATHS.runner),
    personaFile: personaFile(),
    log,
    signal: abort.signal,
  };
  try {
    // The turn boundary is explicit: a turn ends with its report, and only then is the next one asked for.
    for (let next: TurnInput | null = turn; next; ) {
      const thisTurn = { tenant: next.tenant, run: next.run, topic: next.topic, harness: next.harness, messages: next.messages.length };
      const result = await runTurn(next, deps);
      try {
        await client.submit(result);
      } catch (error) {
        log.error('gated did not accept the turn report', { ...thisTurn, err: error });
        return 1;
      }
      log.info('turn reported', { ...thisTurn, status: result.status, chars: result.result.length });
      if (!turn.coordinator || abort.signal.aborted) return 0;
      const answer = await client.nextTurn(abort.signal).catch((error: unknown) => {
        if (abort.signal.aborted) return { stop: true as const };
        throw error;
      });
      next = 'turn' in answer ? answer.turn : null;
      if (next) log.info('turn received', { run: next.run, topic: next.topic, messages: next.messages.length });
    }
    log.info('coordinator told to stop');
    return 0;
  } finally {
    await client.close();
    await relay?.close();
  }
}

main(process.argv).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log.error('runner crashed', { err: error });
    process.exit(1);
  },
);
