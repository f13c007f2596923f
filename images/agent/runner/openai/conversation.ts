// The openai harness's memory: one conversation per topic, a JSON file in the tenant's home, resumed next turn. The
// system prompt is not stored (it is rebuilt each turn from PERSONA.md and the skills, so edits apply at once).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** Kept messages per topic: older exchanges are dropped whole (from a user message on), never half a tool round. */
export const MAX_KEPT_MESSAGES = 200;

export function conversationFile(home: string, topic: string): string {
  // base64url: any topic name becomes one safe file name, and two topics never share a file.
  return join(home, '.warren', 'openai', `${Buffer.from(topic, 'utf8').toString('base64url')}.json`);
}

/** The stored conversation; missing is a new one, unreadable is reported and starts afresh rather than failing. */
export function loadConversation(file: string): { messages: ChatMessage[]; problem?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { messages: [] } : { messages: [], problem: `cannot read ${file}: ${code}` };
  }
  try {
    const data = JSON.parse(text) as { messages?: unknown };
    if (!Array.isArray(data.messages)) throw new Error('no "messages" list');
    return { messages: data.messages as ChatMessage[] };
  } catch (error) {
    return { messages: [], problem: `${file} is not a conversation (${(error as Error).message}); starting a new one` };
  }
}

/** The newest messages that fit, starting at a user message so every tool result keeps its call. */
export function trimConversation(messages: readonly ChatMessage[], max = MAX_KEPT_MESSAGES): ChatMessage[] {
  if (messages.length <= max) return [...messages];
  for (let start = messages.length - max; start < messages.length; start++) {
    if (messages[start]!.role === 'user') return messages.slice(start);
  }
  return [];
}

export function saveConversation(file: string, messages: readonly ChatMessage[]): void {
  mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify({ messages: trimConversation(messages) }) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
