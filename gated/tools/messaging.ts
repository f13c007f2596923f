// Messaging: everything a tenant says goes to the outbox; the gateway delivers it.
import { randomUUID } from 'node:crypto';
import {
  closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, writeFileSync,
} from 'node:fs';
import { basename, join, sep } from 'node:path';
import { z } from 'zod';
import { canonicalPath, canonicalChat } from '../../core/grants/canonical.js';
import { defineTool, ToolError, type ToolContext } from './tool.js';

export const MAX_TEXT = 64 * 1024;
export const MAX_FILE_BYTES = 50 * 1024 * 1024;

const chatId = z.string().min(1).max(256).describe('Chat id, e.g. "tg:12345" or "local:ops"');
const text = z.string().min(1).max(MAX_TEXT);

function topicOf(ctx: ToolContext): string {
  return ctx.run?.topic ?? 'main';
}

/** The chat a reply goes to: the run's chat, else the last chat seen on this topic. */
function conversationChat(ctx: ToolContext): string {
  const chat = ctx.run?.chat ?? ctx.store.lastChat(ctx.tenant, topicOf(ctx));
  if (!chat) throw new ToolError('there is no conversation to reply to on this topic; use send_message with a chat id');
  return chat;
}

function requireChat(raw: string): string {
  const chat = canonicalChat(raw);
  if (!chat) throw new ToolError(`"${raw}" is not a valid chat id`);
  return chat;
}

export const sendMessage = defineTool({
  name: 'send_message',
  description: 'Send a message to a chat. Delivered by the gateway.',
  input: z.object({ chat: chatId, text }).strict(),
  handler(ctx, { chat, text }) {
    const id = ctx.store.addOutbox({
      tenant: ctx.tenant,
      topic: topicOf(ctx),
      kind: 'message',
      chat: requireChat(chat),
      text,
      run: ctx.run?.id,
    });
    return { text: `queued message ${id} to ${canonicalChat(chat)}`, data: { outbox_id: id } };
  },
});

export const reply = defineTool({
  name: 'reply',
  description: 'Reply in the current conversation, optionally to a specific message id.',
  input: z.object({ text, reply_to: z.number().int().positive().optional() }).strict(),
  handler(ctx, { text, reply_to }) {
    if (reply_to !== undefined) ownMessage(ctx, reply_to);
    const chat = conversationChat(ctx);
    const id = ctx.store.addOutbox({
      tenant: ctx.tenant,
      topic: topicOf(ctx),
      kind: 'reply',
      chat,
      text,
      replyTo: reply_to ?? null,
      run: ctx.run?.id,
    });
    return { text: `queued reply ${id} to ${chat}`, data: { outbox_id: id } };
  },
});

/** A message id the caller may refer to: one from its own inbox. */
function ownMessage(ctx: ToolContext, id: number) {
  const m = ctx.store.message(id);
  if (!m || m.tenant !== ctx.tenant) throw new ToolError(`message ${id} is not in your inbox`);
  return m;
}

export const like = defineTool({
  name: 'like',
  description: 'React to a message in your inbox (default reaction: 👍).',
  input: z.object({ message_id: z.number().int().positive(), reaction: z.string().min(1).max(32).optional() }).strict(),
  handler(ctx, { message_id, reaction }) {
    const m = ownMessage(ctx, message_id);
    const id = ctx.store.addOutbox({
      tenant: ctx.tenant,
      topic: m.topic,
      kind: 'like',
      chat: m.chat,
      replyTo: message_id,
      reaction: reaction ?? '👍',
      run: ctx.run?.id,
    });
    return { text: `queued reaction ${id}`, data: { outbox_id: id } };
  },
});

/**
 * Copies a regular file from the tenant's home into gated's own storage and returns the copy's path. The agent can
 * change its home at any moment, so the file is opened first and the opened descriptor itself is checked to lie
 * inside home (no race between checking a path and reading it).
 */
export function copyFileFromHome(homeDir: string, raw: string, destDir: string, name: string): string {
  const rel = canonicalPath(raw);
  if (rel === null) throw new ToolError(`"${raw}" is not a path inside your home (/home/node)`);
  let fd: number;
  try {
    fd = openSync(join(homeDir, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    throw new ToolError(`no such regular file in your home: ${rel}`);
  }
  try {
    const home = realpathSync(homeDir);
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (!real.startsWith(home + sep)) throw new ToolError(`${rel} resolves outside your home`);
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ToolError(`${rel} is not a regular file`);
    if (st.size > MAX_FILE_BYTES) throw new ToolError(`${rel} is larger than ${MAX_FILE_BYTES} bytes`);
    mkdirSync(destDir, { recursive: true, mode: 0o700 });
    const dest = join(destDir, `${name}-${basename(real)}`);
    writeFileSync(dest, readFileSync(fd), { mode: 0o600, flag: 'wx' });
    return dest;
  } finally {
    closeSync(fd);
  }
}

export const sendFile = defineTool({
  name: 'send_file',
  description: 'Send a file from your home folder to a chat (default: the current conversation).',
  input: z
    .object({ path: z.string().min(1).max(4096), chat: chatId.optional(), caption: z.string().max(4096).optional() })
    .strict(),
  handler(ctx, { path, chat, caption }) {
    const state = ctx.registry.config(ctx.tenant);
    if (!state) throw new ToolError('your tenant has no valid configuration');
    const file = copyFileFromHome(join(state.dir, 'home'), path, ctx.filesDir, `${Date.now()}-${randomUUID().slice(0, 8)}`);
    const target = chat ? requireChat(chat) : conversationChat(ctx);
    const id = ctx.store.addOutbox({
      tenant: ctx.tenant,
      topic: topicOf(ctx),
      kind: 'file',
      chat: target,
      text: caption ?? null,
      filePath: file,
      run: ctx.run?.id,
    });
    return { text: `queued file ${id} to ${target}`, data: { outbox_id: id } };
  },
});

export const messagingTools = [sendMessage, reply, like, sendFile];
