// Chat commands the gateway answers itself, before routing: `/pair <code>` for anyone; `/status` for anyone whose
// messages in the chat reach the tenant (the tenant's own work: coordinator, turns, workers) and, with the classroom
// view added, for people whose classroom role covers the group; and the admin commands (/new, /pause, /resume) for
// the covering roles only. Everything else, unknown /commands included, flows to the agent as a normal message.
import type { Logger } from '../../core/log.js';
import type { TenantPath } from '../../core/tenant-path.js';
import { topicForChat } from '../inbound.js';
import type { AdapterIdentity, InboundEvent, InboundOutcome } from './adapter.js';
import type { CommandsHook } from './inbound-sink.js';
import { coversGroup, type Role } from './roles.js';
import type { ClassroomStore, GroupStatus } from './users.js';

/** The commands answered here besides /pair: /status for anyone the chat reaches the tenant for, the rest for admins. */
export const GATEWAY_COMMANDS = ['status', 'new', 'pause', 'resume'] as const;
type AdminCommand = Exclude<(typeof GATEWAY_COMMANDS)[number], 'status'>;

const ROLE_NAMES: Record<Role, string> = { student: 'a student', ta: 'a TA', instructor: 'an instructor' };

export const NO_IDENTITY = 'pairing needs a user id this chat platform vouches for (a Telegram account, say)';

export const NOT_ADMIN = 'only an instructor or TA of this group can do that';

export const NOT_REACHING = 'only someone whose messages reach this agent can ask for its status';

export type { CommandsHook };

/** `/Status@acme_bot` -> `status`: the platform's command entity, without the slash or the bot it addresses. PURE. */
export function commandName(event: Pick<InboundEvent, 'command'>): string | null {
  if (!event.command) return null;
  const name = event.command.name.replace(/^\//, '').replace(/@.*$/, '').toLowerCase();
  return name.length > 0 ? name : null;
}

/**
 * Platforms whose sender ids the platform itself vouches for (a Telegram user id). A web chat visitor or a webhook
 * names itself, so it can neither pair nor hold a role: anyone could claim the same name.
 */
export const VOUCHED_SENDER_PREFIXES: readonly string[] = ['tg'];

/**
 * The sender's platform id, or null when it cannot hold a role: it must come through an adapter whose platform vouches
 * for its senders, and be one of that adapter's own ids (a `tg:` id only through the Telegram adapter), so a web chat
 * visitor who claims to be `tg:5551234` gets none of that person's memberships. PURE.
 */
export function senderIdentity(
  event: Pick<InboundEvent, 'sender'>,
  via: Pick<AdapterIdentity, 'prefix'>,
  vouched: readonly string[] = VOUCHED_SENDER_PREFIXES,
): string | null {
  const id = event.sender.id;
  if (!vouched.includes(via.prefix)) return null;
  return id.startsWith(`${via.prefix}:`) && id.length > via.prefix.length + 1 ? id : null;
}

/**
 * What to do with a command: pair, say the status (with the classroom view for an admin), run an admin command,
 * refuse it, or leave it to the agent. `workStatus`: the tenant's work can be said (a status source is wired). PURE.
 */
export function decideCommand(
  name: string | null,
  who: { admin: boolean; reaches: boolean },
  workStatus = false,
): { do: 'pair' } | { do: 'status'; admin: boolean } | { do: AdminCommand } | { do: 'refuse'; reason: string } | null {
  if (name === 'pair') return { do: 'pair' };
  if (name === null || !(GATEWAY_COMMANDS as readonly string[]).includes(name)) return null;
  if (name === 'status') {
    if (who.admin) return { do: 'status', admin: true };
    if (who.reaches && workStatus) return { do: 'status', admin: false };
    return { do: 'refuse', reason: workStatus ? NOT_REACHING : NOT_ADMIN };
  }
  return who.admin ? { do: name as AdminCommand } : { do: 'refuse', reason: NOT_ADMIN };
}

/** The /status answer, said without a model. PURE. */
export function describeStatus(group: TenantPath, s: GroupStatus): string {
  const turns = s.running === 1 ? '1 turn running' : `${s.running} turns running`;
  const waiting =
    s.waitingTopics === 0
      ? 'nothing waiting'
      : `${s.waitingTopics} conversation${s.waitingTopics === 1 ? '' : 's'} waiting (${s.waitingMessages} message${s.waitingMessages === 1 ? '' : 's'})`;
  return `${group}: ${s.paused ? 'paused; ' : ''}${turns}, ${waiting}`;
}

export interface CommandDeps {
  classroom: ClassroomStore;
  /** Whether a group exists in the tenant tree now (a code for a removed group does not pair). */
  groupExists: (group: TenantPath) => boolean;
  /** The conversation (topic) an event of this tenant goes to: what /new resets. Default: the chat's own topic. */
  topicFor?: (event: InboundEvent, tenant: TenantPath) => string;
  /** Adapters whose sender ids can pair and hold roles (default VOUCHED_SENDER_PREFIXES). */
  vouchedSenderPrefixes?: readonly string[];
  /** Look at the queue again (after /resume). */
  wake?: () => void;
  /**
   * The tenant's work as /status says it (gateway/status.ts): seen from `topic`, the asker's conversation (another
   * conversation's turns and workers without their words), or in full (null, for an admin). Without it /status is
   * the classroom view alone.
   */
  workStatus?: (tenant: TenantPath, topic: string | null) => string;
  log: Logger;
}

export function classroomCommands(deps: CommandDeps): CommandsHook {
  const topicFor = deps.topicFor ?? ((event: InboundEvent) => topicForChat(event.chat));
  return (event, via, tenant, reaches = false) => {
    const name = commandName(event);
    if (name === null) return null; // most messages: no memberships to look up
    const user = senderIdentity(event, via, deps.vouchedSenderPrefixes);
    const admin = user !== null && coversGroup(deps.classroom.bindings(user), tenant);
    const decision = decideCommand(name, { admin, reaches }, deps.workStatus !== undefined);
    if (decision === null) return null;
    const log = deps.log.child({ command: name, user, tenant, chat: event.chat });
    const handled = (reply: string): InboundOutcome => ({ kind: 'handled', reply });
    switch (decision.do) {
      case 'pair': {
        const code = event.command!.args.trim();
        if (user === null) return handled(NO_IDENTITY);
        if (code.length === 0) return handled('usage: /pair <code>');
        const outcome = deps.classroom.pair({ id: user, name: event.sender.name }, code, {
          adapterWorld: via.world,
          groupExists: deps.groupExists,
        });
        if (!outcome.ok) {
          log.info({ reason: outcome.reason }, 'pairing refused');
          return handled(outcome.reason);
        }
        log.info({ group: outcome.group, role: outcome.role, token: outcome.token }, 'user paired');
        return handled(`paired: you are ${ROLE_NAMES[outcome.role]} of ${outcome.group}`);
      }
      case 'refuse':
        log.info('command refused');
        return handled(decision.reason);
      case 'status': {
        // Only the tenant the chat reaches is said, and to a non-admin only its own conversation in words; the
        // classroom view (paused, waiting conversations) is an admin's.
        const work = deps.workStatus?.(tenant, decision.admin ? null : topicFor(event, tenant));
        const classroom = decision.admin ? describeStatus(tenant, deps.classroom.status(tenant)) : null;
        return handled([classroom, work].filter((part) => part !== null && part !== undefined).join('\n'));
      }
      case 'new': {
        const result = deps.classroom.resetConversation(tenant, topicFor(event, tenant));
        log.info({ result }, 'conversation reset');
        if (result === 'running') return handled('a turn of this conversation is running; send /new again once it has answered');
        return handled('the next message here starts a new conversation');
      }
      case 'pause': {
        const changed = deps.classroom.pause(tenant, user!); // an admin command: the sender has an identity
        log.info({ changed }, 'group paused');
        return handled(changed ? `paused ${tenant}: messages wait until /resume` : `${tenant} is already paused`);
      }
      case 'resume': {
        const changed = deps.classroom.resume(tenant);
        log.info({ changed }, 'group resumed');
        if (changed) deps.wake?.();
        return handled(changed ? `resumed ${tenant}` : `${tenant} is not paused`);
      }
    }
  };
}
