// The script harness: deterministic rules instead of a model. Per new message (in order) the first rule whose regex
// matches runs its command (`exec`, in the home: how a scripted agent keeps files in ~/state/ as the built-in skills
// say), makes its tool calls through gated (real tools/call: denials come back as error results and show in the
// reply through {{result}}/{{error}}), then its reply is expanded. The turn's result is the replies, one per line.
import { execFile } from 'node:child_process';
import type { TurnInput, TurnMessage, TurnResult } from '../../../../core/turn.js';
import type { RunnerLog } from '../log.js';
import type { ToolCaller } from '../tool-caller.js';
import { compileScript, EXEC_TIMEOUT_MS, MAX_CALLS_PER_TURN, type CompiledRule } from './schema.js';
import { expandDeep, expandTemplate, type TemplateContext } from './template.js';

export interface ScriptDeps {
  tools: ToolCaller;
  /** The harness's environment ({{env.NAME}}); process.env with the turn's env merged in. */
  env: Readonly<Record<string, string | undefined>>;
  log: RunnerLog;
}

export async function runScriptHarness(turn: TurnInput, deps: ScriptDeps): Promise<TurnResult> {
  const script = compileScript(turn.script);
  if (!script.ok) return { status: 'error', result: `script harness: ${script.error}` };
  const budget = { calls: 0 };
  const replies: string[] = [];
  for (const message of turn.messages) {
    replies.push(await answer(message, script.rules, turn, deps, budget));
  }
  return { status: 'ok', result: replies.join('\n') };
}

async function answer(
  message: TurnMessage,
  rules: readonly CompiledRule[],
  turn: TurnInput,
  deps: ScriptDeps,
  budget: { calls: number },
): Promise<string> {
  let rule: CompiledRule | undefined;
  let match: RegExpExecArray | null = null;
  for (const candidate of rules) {
    match = candidate.regex.exec(message.text);
    if (match) {
      rule = candidate;
      break;
    }
  }
  if (!rule || !match) {
    deps.log.info('no script rule matched', { message: message.id });
    return `(no script rule matched: ${message.text})`;
  }
  const ctx: TemplateContext = {
    groups: [...match],
    named: {
      sender: message.sender,
      chat: message.chat ?? '',
      kind: message.kind,
      text: message.text,
      tenant: turn.tenant,
      topic: turn.topic,
      result: '',
      error: '',
    },
    env: deps.env,
  };
  if (rule.exec) {
    const outcome = await runCommand(rule.exec.map((arg) => expandTemplate(arg, ctx)), deps);
    ctx.named = { ...ctx.named, result: outcome.text, error: outcome.isError ? 'yes' : '' };
  }
  for (const call of rule.calls) {
    const outcome = await makeCall(call.tool, expandDeep(call.args, ctx) as Record<string, unknown>, deps, budget);
    ctx.named = { ...ctx.named, result: outcome.text, error: outcome.isError ? 'yes' : '' };
  }
  deps.log.info('script rule matched', { message: message.id, rule: rule.index, calls: rule.calls.length });
  if (rule.work) await simulateWork(rule.work, deps);
  return expandTemplate(rule.reply, ctx);
}

async function makeCall(
  tool: string,
  args: Record<string, unknown>,
  deps: ScriptDeps,
  budget: { calls: number },
): Promise<{ text: string; isError: boolean }> {
  if (budget.calls >= MAX_CALLS_PER_TURN) {
    deps.log.warn('tool call skipped: per-turn limit reached', { tool, limit: MAX_CALLS_PER_TURN });
    return { text: `call to ${tool} skipped: the limit of ${MAX_CALLS_PER_TURN} tool calls per turn was reached`, isError: true };
  }
  budget.calls += 1;
  try {
    const outcome = await deps.tools.call(tool, args);
    deps.log.info('tool called', { tool, isError: outcome.isError });
    return outcome;
  } catch (error) {
    deps.log.warn('tool call failed', { tool, err: error });
    return { text: `call to ${tool} failed: ${(error as Error).message}`, isError: true };
  }
}

const MAX_EXEC_OUTPUT = 64 * 1024;

/** Runs argv (no shell) in the working directory (the home), bounded in time and output; stdout is the result. */
function runCommand(argv: readonly string[], deps: ScriptDeps): Promise<{ text: string; isError: boolean }> {
  const [command, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: deps.env as NodeJS.ProcessEnv, timeout: EXEC_TIMEOUT_MS, maxBuffer: MAX_EXEC_OUTPUT, encoding: 'utf8' },
      (error, stdout, stderr) => {
        deps.log.info('script command ran', { command, ok: !error });
        if (!error) return resolve({ text: stdout.trimEnd(), isError: false });
        const how = error.killed ? `stopped after ${EXEC_TIMEOUT_MS} ms` : `exit ${String(error.code)}`;
        resolve({ text: `${command} failed (${how}): ${String(stderr).trim().slice(-512) || error.message}`, isError: true });
      },
    );
  });
}

/** Holds memory (touched, so it is really resident) and time, as the rule asks; released when the rule is done. */
async function simulateWork(work: { hold_ms?: number; alloc_mb?: number }, deps: ScriptDeps): Promise<void> {
  const held: Buffer[] = [];
  if (work.alloc_mb) {
    deps.log.info('allocating memory', { mb: work.alloc_mb });
    for (let i = 0; i < work.alloc_mb; i++) held.push(Buffer.alloc(1024 * 1024, 1));
  }
  if (work.hold_ms) await new Promise((resolve) => setTimeout(resolve, work.hold_ms));
  held.length = 0;
}
