// Inbound messages: validated, then stored before anything else happens. Every channel (HTTP, `warren send`, the
// chat adapters through gateway/channels/inbound-sink.ts) goes through acceptMessage.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalChat } from '../core/grants/canonical.js';
import { parseTenantPath } from '../core/tenant-path.js';
import type { TenantRegistry } from '../core/tree/registry.js';
import type { ChannelFields, GatedStore } from '../gated/store.js';
import { chatIdSchema, MAX_TEXT } from '../gated/tools/messaging.js';
import { TOPIC } from '../gated/tools/topics.js';

export const InboundSchema = z
  .object({
    tenant: z.string().min(1).max(1024),
    text: z.string().min(1).max(MAX_TEXT),
    /** Default: the conversation's own topic (see topicForChat), so two people never share a turn or a session. */
    topic: z.string().regex(TOPIC, 'topic names use lowercase letters, digits and "_.:-"').optional(),
    // A sender is held to the chat-id rule too: it becomes part of `local:<sender>` and of prompts.
    sender: chatIdSchema()
      .max(128)
      .refine((s) => !/^[ \t]|[ \t]$/.test(s), 'a sender has no spaces around it')
      .default('operator'),
    chat: chatIdSchema().optional(),
  })
  .strict();
export type Inbound = z.input<typeof InboundSchema>;

export class InboundError extends Error {}

/**
 * Each conversation is its own topic unless the sender names one: its own queue, its own turns, its own harness
 * session. The topic is a readable form of the chat id plus 64 bits of its hash, so two chat ids can never share a
 * topic (not even one spelled like another's readable form) short of a hash collision.
 */
export function topicForChat(chat: string): string {
  const readable = chat.toLowerCase().replace(/[^a-z0-9_.:-]/g, '_').replace(/^[^a-z0-9]+/, '').slice(0, 100) || 'chat';
  return `${readable}-${createHash('sha256').update(chat).digest('hex').slice(0, 16)}`;
}

/**
 * Stores a message for a tenant and returns its id; throws InboundError with a reason a sender can act on. `channel`
 * is what a chat adapter said about the message (thread, platform id, display name, engaged or context): it comes
 * from the gateway's own code, never from a request body.
 */
export function acceptMessage(
  store: GatedStore,
  registry: TenantRegistry,
  input: unknown,
  channel?: ChannelFields,
): { id: number; tenant: string; chat: string } {
  const parsed = InboundSchema.safeParse(input);
  if (!parsed.success) {
    throw new InboundError(parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  }
  const m = parsed.data;
  let tenant: string;
  try {
    tenant = parseTenantPath(m.tenant);
  } catch (error) {
    throw new InboundError((error as Error).message);
  }
  const state = registry.get(tenant);
  if (!state) throw new InboundError(`no tenant ${tenant} (create tenants/${tenant}/ first)`);
  if (!state.config) throw new InboundError(`tenant ${tenant} has no valid configuration; see "warren tenants"`);
  const chat = canonicalChat(m.chat ?? `local:${m.sender}`);
  if (!chat) throw new InboundError('chat is empty');
  const message = { tenant, topic: m.topic ?? topicForChat(chat), kind: 'chat' as const, chat, sender: m.sender, text: m.text };
  const id = channel ? store.addChannelMessage(message, channel) : store.addMessage(message);
  return { id, tenant, chat };
}
