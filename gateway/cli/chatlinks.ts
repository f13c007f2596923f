// `warren chatlinks`: the operator issues, lists and revokes web chat links (agents use issue_token(kind=chat_link)).
import { parse, UsageError, type Command } from '../../core/command.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { requireChat } from '../../gated/tools/targets.js';
import { MAX_TTL_S, mintToken } from '../../gated/tools/tokens.js';
import { ToolError } from '../../gated/tools/tool.js';
import { findGateway } from './client.js';
import { existingTenant, listOrRevoke, ttlSeconds } from './operator-tokens.js';

const DEFAULT_TTL_S = 30 * 24 * 3600;

const usage = `Usage:
  warren chatlinks issue <tenant> <name> [--ttl SECONDS]   a link to the web chat page of chat web:<name>
  warren chatlinks list [--json]                          every chat link (never a secret)
  warren chatlinks revoke <token-id>                      the link and its open pages stop working at once

The link is printed once and never stored. Wire the chat to the tenant in its PERSONA.md
(channels: - chat: web:<name>); anyone holding the link talks to that one chat of that tenant.
Default lifetime ${DEFAULT_TTL_S / 86400} days, at most ${MAX_TTL_S / 86400}.`;

/** `help` or `web:help` -> `web:help`: only web chats open a page. */
export function webChatTarget(raw: string): string {
  const named = raw.trim().toLowerCase();
  const chat = requireChat(named.includes(':') ? named : `web:${named}`);
  if (!chat.startsWith('web:') || chat === 'web:') throw new ToolError(`"${raw}" is not a web chat: a chat link opens web:<name> chats only`);
  return chat;
}

const command: Command = {
  summary: 'issue, list and revoke web chat links',
  usage,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { ttl: { type: 'string' }, json: { type: 'boolean' } });
    const [sub, ...rest] = positionals;
    const listed = listOrRevoke(sub, rest, { dataDir: common.data, kind: 'chat_link', label: 'chat link', command: 'chatlinks', json: values.json });
    if (listed !== null) return listed;
    if (sub === 'issue') {
      if (rest.length !== 2) throw new UsageError('give a tenant and a web chat name');
      const ttl = ttlSeconds(values.ttl, DEFAULT_TTL_S);
      let target: string;
      try {
        target = webChatTarget(rest[1]!);
      } catch (error) {
        if (error instanceof ToolError) throw new UsageError(error.message);
        throw error;
      }
      const tenant = existingTenant(rest[0]!, common.tenants);
      const db = openWarrenDb(common.data);
      try {
        const t = mintToken(new GatedStore(db), { tenant, kind: 'chat_link', target, ttlS: ttl });
        const base = (await findGateway(common.data))?.url ?? '<gateway URL>';
        process.stdout.write(
          `chat link ${t.id} for ${tenant} on ${t.target}, expires ${t.expiresAt.toISOString()}\n` +
            `${base}/chat/${t.secret}\n` +
            `Shown once: keep it now.\n`,
        );
        return 0;
      } finally {
        db.close();
      }
    }
    throw new UsageError('give issue, list or revoke');
  },
};
export default command;
