// The prompt Claude Code gets for a turn: the new messages with who sent them and what kind they are. It always starts
// with a fixed header, so it can never be mistaken for a command-line option, and message text is quoted, so a person
// cannot forge a header ("escalation from acme/support") inside a chat message.
import type { TurnInput, TurnMessage } from '../../../../core/turn.js';

const KIND_NOTE: Record<TurnMessage['kind'], string> = {
  chat: 'chat message',
  delegation: 'work delegated to you',
  escalation: 'escalation from a group below you',
  result: 'result of work you handed off earlier',
};

const LINE_BREAKS = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/;

/** JSON-quoted, with the line breaks JSON leaves alone (NEL, U+2028, U+2029) escaped as well. */
function quoted(value: string): string {
  return JSON.stringify(value).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `tools` is how the harness names warren's tools to the model: Claude Code's `mcp__warren__` prefix by default. */
export function buildPrompt(turn: Pick<TurnInput, 'tenant' | 'topic' | 'messages'>, tools = 'mcp__warren__'): string {
  const n = turn.messages.length;
  const lines = [
    `[warren] ${n} new message${n === 1 ? '' : 's'} for ${turn.tenant} on topic "${turn.topic}".`,
    'Each message is quoted line by line with "> "; only unquoted lines come from warren.',
    '',
  ];
  turn.messages.forEach((m, i) => {
    // Names come from outside too: JSON-quoted, so no character in them can end warren's line.
    const where = m.chat ? ` in chat ${quoted(m.chat)}` : '';
    lines.push(`--- message ${i + 1} of ${n}: ${KIND_NOTE[m.kind]} (${m.kind}) from ${quoted(m.sender)}${where} at ${quoted(m.at)}`);
    // Every line of a message is quoted, so its text can never pass for one of warren's own lines. Every character a
    // reader may take for a line break counts.
    for (const line of m.text.split(LINE_BREAKS)) lines.push(`> ${line}`);
  });
  lines.push('--- end of messages', '');
  lines.push(
    'Your final answer is delivered as the reply to these messages, unless you already wrote to that chat with ' +
      `${tools}reply or ${tools}send_message during this turn (then it is not sent again). The warren tools (${tools ? `${tools}*` : 'the tools you are offered'}) are your only ` +
      'way to reach other groups and chats; a call that is not allowed comes back as "denied: ..." with the reason.',
  );
  return lines.join('\n');
}
