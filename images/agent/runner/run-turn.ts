// One turn: pick the harness, run it, and turn whatever happens into a TurnResult that fits the contract. A harness
// that throws becomes status "error" with the reason, so the gateway always learns why a turn failed.
import { join } from 'node:path';
import { CONTAINER_PATHS } from '../../../core/container.js';
import { MAX_RESULT_CHARS, SESSION_ID, type TurnInput, type TurnResult } from '../../../core/turn.js';
import { runClaudeHarness } from './claude/harness.js';
import type { RunnerLog } from './log.js';
import { readPersonaBody } from './persona.js';
import { CLAUDE_SKILLS, mergeSkills, readSkillsFolder, skillsBlock, type SurfacedSkill } from './skills.js';
import { runScriptHarness } from './script/harness.js';
import type { ToolCaller, ToolLister } from './tool-caller.js';
import { runOpenAiHarness } from './openai/harness.js';

const TRUNCATED = '\n…(truncated)';

export interface TurnDeps {
  tools: ToolCaller;
  /** gated's tool list for this run (the openai harness offers it to the model). */
  lister?: ToolLister;
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
  const skills = surfacedSkills(skillRoots(env), persona.builtinSkills, deps.log);
  const systemPrompt = [persona.body, skillsBlock(skills.skills)].filter((part) => part !== '').join('\n\n');
  if (turn.harness === 'openai') {
    if (!deps.lister) throw new Error('the openai harness needs the tool list from gated');
    return runOpenAiHarness(turn, {
      tools: { call: (t, a) => deps.tools.call(t, a), list: () => deps.lister!.list() },
      systemPrompt,
      // The secrets (the API key) in memory, over the container's environment (the endpoint, the proxy).
      env: { ...env, ...turn.env },
      home: env.HOME || CONTAINER_PATHS.home,
      log: deps.log,
      signal: deps.signal,
    });
  }
  return runClaudeHarness(turn, {
    personaBody: systemPrompt,
    addDirs: skills.addDirs,
    socket: deps.socket,
    runner: deps.runner,
    baseEnv: env,
    log: deps.log,
    signal: deps.signal,
  });
}

/**
 * The roots Claude Code gets with --add-dir; the skills are in <root>/.claude/skills. The container's paths unless
 * WARREN_SKILLS_ROOT / WARREN_BUILTIN_SKILLS_ROOT say otherwise (tests on the host; PERSONA.md can never set WARREN_*).
 */
export function skillRoots(env: NodeJS.ProcessEnv): { tenant: string; builtin: string } {
  return {
    tenant: env.WARREN_SKILLS_ROOT || CONTAINER_PATHS.claudeSkillsRoot,
    builtin: env.WARREN_BUILTIN_SKILLS_ROOT || CONTAINER_PATHS.builtinSkillsRoot,
  };
}

/** The skills of this turn and the roots to hand Claude Code, so its own skill loading sees the same ones. */
export function surfacedSkills(
  roots: { tenant: string; builtin: string },
  withBuiltin: boolean,
  log: RunnerLog,
): { skills: SurfacedSkill[]; addDirs: string[] } {
  const own = readSkillsFolder(join(roots.tenant, CLAUDE_SKILLS), false);
  const builtin = withBuiltin ? readSkillsFolder(join(roots.builtin, CLAUDE_SKILLS), true) : { skills: [], problems: [] };
  for (const problem of [...own.problems, ...builtin.problems]) log.warn('skill left out', { problem });
  const addDirs = [...(own.skills.length > 0 ? [roots.tenant] : []), ...(builtin.skills.length > 0 ? [roots.builtin] : [])];
  return { skills: mergeSkills(own.skills, builtin.skills), addDirs };
}

/** Keeps a result inside the contract's limits (gated refuses a report that is not), marking what was cut. */
export function fitResult(result: TurnResult): TurnResult {
  const out: TurnResult = { status: result.status, result: result.result };
  if (out.result.length > MAX_RESULT_CHARS) out.result = out.result.slice(0, MAX_RESULT_CHARS - TRUNCATED.length) + TRUNCATED;
  // A session id gated would refuse (and with it the whole report) is dropped instead: the answer matters more.
  if (result.session !== undefined) out.session = result.session !== null && SESSION_ID.test(result.session) ? result.session : null;
  return out;
}
