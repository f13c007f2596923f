// One turn: pick the harness, run it, and turn whatever happens into a TurnResult that fits the contract. A harness
// that throws becomes status "error" with the reason, so the gateway always learns why a turn failed.
import { MAX_RESULT_CHARS, SESSION_ID, type TurnInput, type TurnResult } from '../../../core/turn.js';
import { runClaudeHarness } from './claude/harness.js';
import type { RunnerLog } from './log.js';
import { readPersonaBody } from './persona.js';
import { runScriptHarness } from './script/harness.js';
import type { ToolCaller } from './tool-caller.js';

const TRUNCATED = '\n…(truncated)';

export interface TurnDeps {
  tools: ToolCaller;
  socket: string;
  /** This bundle's path, for the claude-code harness's MCP bridge. */
  runner: string;
  personaFile: string;
  log: RunnerLog;
  signal?: AbortSignal;
  /** The runner's environment; the script harness merges the turn's env into it (in memory). */
  env?: NodeJS.ProcessEnv;
}

export async function runTurn(turn: TurnInput, deps: TurnDeps): Promise<TurnResult> {
  let result: TurnResult;
  try {
    result = await runHarness(turn, deps);
  } catch (error) {
    deps.log.error('harness failed', { harness: turn.harness, err: error });
    result = { status: 'error', result: `${turn.harness} harness failed: ${(error as Error).message ?? String(error)}` };
  }
  return fitResult(result);
}

async function runHarness(turn: TurnInput, deps: TurnDeps): Promise<TurnResult> {
  const env = deps.env ?? process.env;
  if (turn.harness === 'script') {
    // The script harness runs in this process: its environment is ours, with the secrets laid over it.
    Object.assign(env, turn.env);
    return runScriptHarness(turn, { tools: deps.tools, env, log: deps.log });
  }
  const persona = readPersonaBody(deps.personaFile);
  if (persona.problem) deps.log.warn('persona body not used', { problem: persona.problem });
  return runClaudeHarness(turn, {
    personaBody: persona.body,
    socket: deps.socket,
    runner: deps.runner,
    baseEnv: env,
    log: deps.log,
    signal: deps.signal,
  });
}

/** Keeps a result inside the contract's limits (gated refuses a report that is not), marking what was cut. */
export function fitResult(result: TurnResult): TurnResult {
  const out: TurnResult = { status: result.status, result: result.result };
  if (out.result.length > MAX_RESULT_CHARS) out.result = out.result.slice(0, MAX_RESULT_CHARS - TRUNCATED.length) + TRUNCATED;
  // A session id gated would refuse (and with it the whole report) is dropped instead: the answer matters more.
  if (result.session !== undefined) out.session = result.session !== null && SESSION_ID.test(result.session) ? result.session : null;
  return out;
}
