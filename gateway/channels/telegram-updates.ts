// The pure half of the Telegram adapter: what a Bot API update means as an InboundEvent, how a long text is split
// for Telegram's 4096-character limit, and what a Bot API failure means for a delivery or for polling. No I/O here;
// gateway/channels/telegram.ts does the talking. Updates are read defensively: every field is checked, since a
// malformed update must be ignored, never crash the adapter.
import type { DeliveryOutcome, InboundEvent } from './adapter.js';

/** Telegram's limit for one message's text (UTF-16 code units, as JavaScript counts). */
export const TELEGRAM_TEXT_LIMIT = 4096;
/** A caption's limit; a longer text goes in messages after the document. */
export const TELEGRAM_CAPTION_LIMIT = 1024;
/** Far above anything Telegram sends (4096 per message): a longer text is not a real update. */
export const MAX_INBOUND_TEXT = 16 * 1024;

export interface BotIdentity {
  id: number;
  username: string;
}

export type Normalised = { kind: 'event'; event: InboundEvent } | { kind: 'ignore'; reason: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** An update as an InboundEvent, or why it is ignored. Only `message` updates are handled. */
export function normaliseUpdate(update: unknown, bot: BotIdentity): Normalised {
  const ignore = (reason: string): Normalised => ({ kind: 'ignore', reason });
  if (!isObj(update) || !isInt(update.update_id)) return ignore('malformed update (no update_id)');
  const kinds = Object.keys(update).filter((k) => k !== 'update_id');
  if (!('message' in update)) return ignore(`unhandled update type ${kinds.join(',') || '(none)'}`);
  const m = update.message;
  if (!isObj(m) || !isInt(m.message_id) || !isObj(m.chat) || !isInt(m.chat.id) || typeof m.chat.type !== 'string') {
    return ignore('malformed message');
  }
  const from = m.from;
  if (!isObj(from) || !isInt(from.id)) return ignore('message without a sender (anonymous admin or channel)');
  if (from.id === bot.id) return ignore('message from the bot itself');
  const text = typeof m.text === 'string' ? m.text : typeof m.caption === 'string' ? m.caption : null;
  if (text === null || text.length === 0) return ignore('message without text (sticker, photo without caption, service message …)');
  if (text.length > MAX_INBOUND_TEXT) return ignore(`oversized text (${text.length} characters)`);
  const rawEntities = typeof m.text === 'string' ? m.entities : m.caption_entities;
  const entities = Array.isArray(rawEntities) ? rawEntities.filter(isObj) : [];

  const chat = m.chat;
  // message_thread_id also marks reply chains in ordinary groups: it is a topic only in a forum.
  const thread = chat.is_forum === true && isInt(m.message_thread_id) ? String(m.message_thread_id) : null;
  const reply = isObj(m.reply_to_message) && isInt(m.reply_to_message.message_id) ? m.reply_to_message : null;
  // Inside a topic, a message that replies to nothing points at the topic's first message: not a reply.
  const replyTo = reply && !(thread !== null && String(reply.message_id) === thread) ? String(reply.message_id) : null;
  const repliesToBot = replyTo !== null && isObj(reply!.from) && reply!.from.id === bot.id;

  const { mentioned, command } = readEntities(text, entities, bot);
  const name = typeof from.username === 'string' ? from.username : typeof from.first_name === 'string' ? from.first_name : undefined;
  return {
    kind: 'event',
    event: {
      chat: `tg:${chat.id}`,
      thread,
      sender: { id: `tg:${from.id}`, ...(name !== undefined ? { name } : {}) },
      text,
      platformMessageId: String(m.message_id),
      replyTo,
      direct: chat.type === 'private',
      mentioned: mentioned || repliesToBot,
      command,
    },
  };
}

/** Mentions and the command, from the entities Telegram computed (offsets in UTF-16 units, as JavaScript slices). */
function readEntities(text: string, entities: Obj[], bot: BotIdentity): { mentioned: boolean; command: InboundEvent['command'] } {
  let mentioned = false;
  let command: InboundEvent['command'] = null;
  const ours = '@' + bot.username.toLowerCase();
  for (const e of entities) {
    if (!isInt(e.offset) || !isInt(e.length) || e.offset < 0 || e.length <= 0 || e.offset + e.length > text.length) continue;
    const span = text.slice(e.offset, e.offset + e.length);
    if (e.type === 'mention' && span.toLowerCase() === ours) mentioned = true;
    else if (e.type === 'text_mention' && isObj(e.user) && e.user.id === bot.id) mentioned = true;
    else if (e.type === 'bot_command' && e.offset === 0 && command === null) {
      const at = span.indexOf('@');
      const target = at < 0 ? null : span.slice(at).toLowerCase();
      // `/status@other_bot` addresses another bot in the group: neither a command nor a mention of ours.
      if (target !== null && target !== ours) continue;
      if (target !== null) mentioned = true;
      command = { name: span.slice(1, at < 0 ? undefined : at).toLowerCase(), args: text.slice(e.length).trim() };
    }
  }
  return { mentioned, command };
}

/** Splits a text into parts of at most `limit`, preferring a line break, then a space; never inside a surrogate pair. */
export function splitText(text: string, limit = TELEGRAM_TEXT_LIMIT): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit);
    let cut = window.lastIndexOf('\n');
    if (cut < limit / 2) cut = window.lastIndexOf(' ');
    if (cut < limit / 2) {
      cut = limit;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut -= 1; // keep a surrogate pair together
    }
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^[\n ]/, '');
  }
  if (rest.length > 0 || parts.length === 0) parts.push(rest);
  return parts;
}

/** The parts of a Bot API failure the adapter decides on: grammY's GrammyError (an answer) or HttpError (none). */
export type ApiFailure =
  | { kind: 'answer'; code: number; description: string; retryAfter?: number }
  | { kind: 'network'; message: string }
  | { kind: 'local'; message: string };

/** What a failed delivery means: 429 waits, 400/401/403 fail the row, 5xx and the network are retried. */
export function deliveryOutcome(f: ApiFailure): DeliveryOutcome & { ok: false; revoked: boolean } {
  if (f.kind === 'network') return { ok: false, retryable: true, error: `network: ${f.message}`, revoked: false };
  if (f.kind === 'local') return { ok: false, retryable: false, error: f.message, revoked: false };
  const error = `Telegram answered ${f.code}: ${f.description}`;
  if (f.code === 429) {
    return { ok: false, retryable: true, retryAfterMs: (f.retryAfter ?? 1) * 1000, error, revoked: false };
  }
  if (f.code === 401) return { ok: false, retryable: false, error: `${error} (bot token revoked or invalid)`, revoked: true };
  if (f.code >= 500) return { ok: false, retryable: true, error, revoked: false };
  return { ok: false, retryable: false, error, revoked: false };
}

export type PollingVerdict =
  | { kind: 'fatal'; error: string }
  | { kind: 'retry'; error: string; afterMs: number }
  | { kind: 'give-up'; error: string };

export interface PollingBackoff {
  /** Consecutive 409 answers so far, this one included. */
  conflicts: number;
  maxConflicts: number;
  baseMs: number;
}

/** What polling does after grammY's loop ended with an error: 401 stops, 409 backs off a bounded number of times. */
export function pollingVerdict(f: ApiFailure, b: PollingBackoff): PollingVerdict {
  if (f.kind === 'answer' && f.code === 401) {
    return { kind: 'fatal', error: 'bot token revoked or invalid (401 Unauthorized); set a new one with warren channels token <world> telegram' };
  }
  const delay = (n: number) => Math.min(b.baseMs * 2 ** Math.max(0, n - 1), 5 * 60_000);
  if (f.kind === 'answer' && f.code === 409) {
    const what = 'another poller or a webhook is using this bot token (409 Conflict)';
    if (b.conflicts > b.maxConflicts) return { kind: 'give-up', error: `${what}; gave up after ${b.maxConflicts} retries — stop the other one and restart warren` };
    return { kind: 'retry', error: `${what}; retry ${b.conflicts} of ${b.maxConflicts}`, afterMs: delay(b.conflicts) };
  }
  const error = f.kind === 'answer' ? `Telegram answered ${f.code}: ${f.description}` : f.message;
  return { kind: 'retry', error, afterMs: delay(1) };
}
