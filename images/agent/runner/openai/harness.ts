// The openai harness: any OpenAI-compatible Chat Completions endpoint with tool calling (a hosted API, vLLM, Ollama,
// llama.cpp). It offers the model exactly the tools gated lists for this run (grant-filtered), runs the tool-call
// loop through gated (bounded), and keeps one conversation per topic in the home. Configuration, all per tenant:
//   model:                         PERSONA.md `model:`
//   OPENAI_BASE_URL                PERSONA.md `environment:` (e.g. http://llm.internal:8000/v1)
//   OPENAI_API_KEY                 a sealed secret listed under `env:` (optional for servers without keys)
//   OPENAI_TIMEOUT_S               `environment:`, how long one model request may take (default 120)
// The endpoint is reached through the container's egress proxy (crackbox), like everything else.
import type { TurnInput, TurnResult } from '../../../../core/turn.js';
import { buildPrompt } from '../claude/prompt.js';
import type { RunnerLog } from '../log.js';
import type { ToolCaller, ToolLister, ToolSpec } from '../tool-caller.js';
import { conversationFile, loadConversation, saveConversation, type ChatMessage, type ChatToolCall } from './conversation.js';
import { postJson } from './http.js';

/** Model requests per turn: a model that keeps calling tools stops here, with a clear status. */
export const MAX_MODEL_ROUNDS = 16;
export const DEFAULT_REQUEST_TIMEOUT_S = 120;
const MAX_ERROR_BODY = 300;

export interface OpenAiDeps {
  tools: ToolCaller & ToolLister;
  /** The persona body and the <skills> block. */
  systemPrompt: string;
  /** The runner's environment with the turn's secrets laid over it (the endpoint, the key, the proxy). */
  env: Readonly<Record<string, string | undefined>>;
  home: string;
  log: RunnerLog;
  signal?: AbortSignal;
}

interface ChatChoice {
  message?: { content?: string | null; tool_calls?: ChatToolCall[] };
  finish_reason?: string;
}

/** Chat Completions `tools` from gated's list. */
export function chatTools(tools: readonly ToolSpec[]): unknown[] {
  return tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema } }));
}

/** Why the endpoint configuration cannot work, or null. */
export function endpointProblem(turn: Pick<TurnInput, 'model'>, env: Readonly<Record<string, string | undefined>>): string | null {
  if (!turn.model) return 'openai harness: set `model:` in PERSONA.md';
  const base = env.OPENAI_BASE_URL;
  if (!base) return 'openai harness: set OPENAI_BASE_URL under `environment:` in PERSONA.md (e.g. http://llm.internal:8000/v1)';
  try {
    const url = new URL(base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return `openai harness: OPENAI_BASE_URL must be http(s), not ${url.protocol}`;
  } catch {
    return `openai harness: OPENAI_BASE_URL is not a URL: ${JSON.stringify(base)}`;
  }
  const timeout = env.OPENAI_TIMEOUT_S;
  if (timeout !== undefined && timeout !== '' && !(Number(timeout) > 0)) return `openai harness: OPENAI_TIMEOUT_S must be a positive number of seconds, not ${JSON.stringify(timeout)}`;
  return null;
}

export function completionsUrl(base: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}/chat/completions`);
}

/** A status line for an endpoint answer that is not a completion. */
export function describeFailure(status: number, headers: Record<string, unknown>, body: string): string {
  const retry = headers['retry-after'];
  const detail = body.replace(/\s+/g, ' ').trim().slice(0, MAX_ERROR_BODY);
  const what = status === 429 ? 'is rate limiting (429)' : status >= 500 ? `failed (${status})` : `refused the request (${status})`;
  return `the model endpoint ${what}${retry ? `; retry after ${String(retry)} s` : ''}${detail ? `: ${detail}` : ''}`;
}

export async function runOpenAiHarness(turn: TurnInput, deps: OpenAiDeps): Promise<TurnResult> {
  const problem = endpointProblem(turn, deps.env);
  if (problem) return { status: 'error', result: problem };
  const url = completionsUrl(deps.env.OPENAI_BASE_URL!);
  const timeoutMs = Math.round(Number(deps.env.OPENAI_TIMEOUT_S || DEFAULT_REQUEST_TIMEOUT_S) * 1000);
  const file = conversationFile(deps.home, turn.topic);
  const stored = loadConversation(file);
  if (stored.problem) deps.log.warn('conversation not resumed', { problem: stored.problem });
  const conversation: ChatMessage[] = [...stored.messages, { role: 'user', content: buildPrompt(turn, '') }];
  const tools = chatTools(await deps.tools.list());
  const headers: Record<string, string> = { accept: 'application/json' };
  if (deps.env.OPENAI_API_KEY) headers.authorization = `Bearer ${deps.env.OPENAI_API_KEY}`;
  const system: ChatMessage[] = deps.systemPrompt ? [{ role: 'system', content: deps.systemPrompt }] : [];
  deps.log.info('starting the model loop', { host: url.host, model: turn.model, resumed: stored.messages.length, tools: tools.length });

  for (let round = 1; round <= MAX_MODEL_ROUNDS; round++) {
    let res;
    try {
      res = await postJson(
        url,
        { model: turn.model, messages: [...system, ...conversation], ...(tools.length > 0 ? { tools } : {}), stream: false },
        headers,
        { env: deps.env, timeoutMs, signal: deps.signal },
      );
    } catch (error) {
      return { status: 'error', result: `the model endpoint ${url.host} did not answer: ${(error as Error).message}` };
    }
    if (res.status !== 200) return { status: 'error', result: describeFailure(res.status, res.headers, res.body) };
    let choice: ChatChoice | undefined;
    try {
      choice = (JSON.parse(res.body) as { choices?: ChatChoice[] }).choices?.[0];
    } catch {
      return { status: 'error', result: 'the model endpoint answered with something that is not JSON' };
    }
    const message = choice?.message;
    if (!message) return { status: 'error', result: 'the model endpoint answered without a message' };
    const calls = message.tool_calls ?? [];
    conversation.push({ role: 'assistant', content: message.content ?? null, ...(calls.length > 0 ? { tool_calls: calls } : {}) });
    if (calls.length === 0) {
      saveConversation(file, conversation);
      return { status: 'ok', result: message.content ?? '' };
    }
    for (const call of calls) conversation.push({ role: 'tool', tool_call_id: call.id, content: await callTool(call, deps) });
  }
  // The rounds so far stay in the conversation: the next turn can continue from them.
  saveConversation(file, conversation);
  return { status: 'error', result: `the model was still calling tools after ${MAX_MODEL_ROUNDS} rounds; the turn was stopped there` };
}

/** One tool call through gated; its text (a denial's too) is what the model reads back. */
async function callTool(call: ChatToolCall, deps: OpenAiDeps): Promise<string> {
  let args: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(call.function.arguments || '{}');
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    args = parsed as Record<string, unknown>;
  } catch (error) {
    return `error: the arguments of ${call.function.name} are not a JSON object (${(error as Error).message})`;
  }
  try {
    const outcome = await deps.tools.call(call.function.name, args);
    deps.log.info('tool called', { tool: call.function.name, isError: outcome.isError });
    return outcome.text;
  } catch (error) {
    return `error: call to ${call.function.name} failed: ${(error as Error).message}`;
  }
}
