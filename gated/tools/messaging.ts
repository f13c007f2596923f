// Messaging: everything a tenant says goes to the outbox; the gateway delivers it.
import { randomUUID } from 'node:crypto';
import {
  closeSync, constants, createReadStream, createWriteStream, fstatSync, mkdirSync, openSync, readdirSync, readlinkSync,
  realpathSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { HOME, canonicalPath, chatIdProblem } from '../../core/grants/canonical.js';
import { HOME_DIR } from '../../core/tree/layout.js';
import { requireChat } from './targets.js';
import { DeniedError, defineTool, ToolError, type ToolContext } from './tool.js';

export const MAX_TEXT = 64 * 1024;
export const MAX_FILE_BYTES = 50 * 1024 * 1024;

/** Chat ids travel into prompts, logs and rules: held to the one chat-id rule of core (chatIdProblem). */
export function chatIdSchema(): z.ZodString {
  return z
    .string()
    .max(256)
    .superRefine((value, ctx) => {
      const problem = chatIdProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

const chatId = chatIdSchema().describe('Chat id, e.g. "tg:12345" or "local:ops"');
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
    return { text: `queued message ${id} to ${requireChat(chat)}`, data: { outbox_id: id } };
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

/** How much smaller than its size a file's allocation may be before it counts as sparse (filesystem rounding). */
const SPARSE_SLACK_BYTES = 64 * 1024;

/** What one tenant's sent files may occupy in gated's storage at once. */
export const FILES_QUOTA_BYTES = 256 * 1024 * 1024;

export interface FileCopyLimits {
  maxFileBytes: number;
  quotaBytes: number;
}

/** Sent files are kept this long for delivery and inspection, then removed (they free the tenant's quota). */
export const FILES_RETENTION_MS = 7 * 24 * 3_600_000;

/** Bytes of sent files still kept for a tenant, after removing those past retention. */
function bytesIn(dir: string, now = Date.now()): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    const file = join(dir, e.name);
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) continue;
    if (now - st.mtimeMs > FILES_RETENTION_MS) rmSync(file, { force: true });
    else total += st.size;
  }
  return total;
}

/**
 * Copies a regular file from the tenant's home into gated's own storage and returns the copy's path. The agent can
 * change its home at any moment, so the file is opened first and everything is decided on the opened descriptor: its
 * real path must lie inside home and the call must be allowed with that real path (a symlinked folder can neither
 * dodge `!send_file(path=private/**)` nor leave `send_file(path=reports/**)`), and exactly the size checked is
 * copied, streamed, within the tenant's quota.
 */
export async function copyFileFromHome(
  ctx: ToolContext,
  homeDir: string,
  raw: string,
  destDir: string,
  limits: FileCopyLimits = { maxFileBytes: MAX_FILE_BYTES, quotaBytes: FILES_QUOTA_BYTES },
): Promise<string> {
  const rel = canonicalPath(raw);
  if (rel === null) throw new ToolError(`"${raw}" is not a path inside your home (${HOME})`);
  let fd: number;
  try {
    fd = openSync(join(homeDir, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    throw new ToolError(`no such regular file in your home: ${rel}`);
  }
  let streaming = false;
  let reservation = 0;
  try {
    const home = realpathSync(homeDir);
    const real = readlinkSync(`/proc/self/fd/${fd}`);
    if (!real.startsWith(home + sep)) throw new ToolError(`${rel} resolves outside your home`);
    const realRel = relative(home, real);
    const refused = ctx.refusedAs({ path: realRel });
    if (refused) throw new DeniedError(`${refused.reason}; ${rel} is really ${realRel}`, refused.rule);
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ToolError(`${rel} is not a regular file`);
    if (st.size > limits.maxFileBytes) throw new ToolError(`${rel} is larger than ${limits.maxFileBytes} bytes`);
    // A sparse file costs its agent nothing and would cost the host its full size: refuse it.
    if (st.blocks * 512 + SPARSE_SLACK_BYTES < st.size) {
      throw new ToolError(`${rel} is sparse (${st.size} bytes, ${st.blocks * 512} allocated); send a regular file`);
    }
    // Copies in progress count too: calls made at the same time must not all see the same free space.
    const used = bytesIn(destDir) + (reserved.get(destDir) ?? 0);
    if (used + st.size > limits.quotaBytes) {
      throw new ToolError(`sending ${rel} would exceed your ${limits.quotaBytes}-byte quota for files in flight (${used} used)`);
    }
    reserve(destDir, st.size);
    reservation = st.size;
    mkdirSync(destDir, { recursive: true, mode: 0o700 });
    const dest = join(destDir, `${Date.now()}-${randomUUID().slice(0, 8)}-${basename(real)}`);
    if (st.size === 0) {
      writeFileSync(dest, '', { mode: 0o600, flag: 'wx' });
      return dest;
    }
    streaming = true; // from here the read stream owns the descriptor and closes it
    const source = createReadStream('', { fd, start: 0, end: st.size - 1, autoClose: true });
    try {
      await pipeline(source, createWriteStream(dest, { mode: 0o600, flags: 'wx' }));
    } catch (error) {
      rmSync(dest, { force: true });
      throw new ToolError(`could not copy ${rel}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    return dest;
  } finally {
    if (!streaming) closeSync(fd);
    if (reservation) reserve(destDir, -reservation);
  }
}

/** Bytes being copied into each tenant's files folder right now. */
const reserved = new Map<string, number>();

function reserve(dir: string, bytes: number): void {
  const left = (reserved.get(dir) ?? 0) + bytes;
  if (left > 0) reserved.set(dir, left);
  else reserved.delete(dir);
}

export const sendFile = defineTool({
  name: 'send_file',
  description: 'Send a file from your home folder to a chat (default: the current conversation).',
  input: z
    .object({ path: z.string().min(1).max(4096), chat: chatId.optional(), caption: z.string().max(4096).optional() })
    .strict(),
  // Without a chat the file goes to the current conversation: deny rules on `chat` see that one.
  resolve(ctx, args) {
    if (args.chat !== undefined) return args;
    const chat = ctx.run?.chat ?? ctx.store.lastChat(ctx.tenant, topicOf(ctx));
    return chat ? { ...args, chat } : args;
  },
  async handler(ctx, { path, chat, caption }) {
    const state = ctx.registry.config(ctx.tenant);
    if (!state) throw new ToolError('your tenant has no valid configuration');
    const target = chat ? requireChat(chat) : conversationChat(ctx);
    const file = await copyFileFromHome(ctx, join(state.dir, HOME_DIR), path, ctx.filesDir);
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
