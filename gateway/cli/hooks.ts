// `warren hooks`: the operator issues, lists and revokes webhook tokens (agents use issue_token(kind=webhook)).
import { parse, UsageError, type Command } from '../../core/command.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { MAX_TTL_S, mintToken, webhookTarget } from '../../gated/tools/tokens.js';
import { ToolError } from '../../gated/tools/tool.js';
import { findGateway } from './client.js';
import { existingTenant, listOrRevoke, ttlSeconds } from './operator-tokens.js';

const DEFAULT_TTL_S = 30 * 24 * 3600;

const usage = `Usage:
  warren hooks issue <tenant> <name> [--ttl SECONDS] [--hmac]   a token for POST /hook/<token> on chat hook:<name>
  warren hooks list [--json]                                    every webhook token (never a secret)
  warren hooks revoke <token-id>                                the hook answers 404 from now on

The secret (and with --hmac the signing key for X-Hub-Signature-256) is printed once and never stored.
Wire the chat to the tenant in its PERSONA.md (channels: - chat: hook:<name>); replies to a webhook are kept in
"warren messages" and the API only. Default lifetime ${DEFAULT_TTL_S / 86400} days, at most ${MAX_TTL_S / 86400}.`;

const command: Command = {
  summary: 'issue, list and revoke webhook tokens',
  usage,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { ttl: { type: 'string' }, hmac: { type: 'boolean' }, json: { type: 'boolean' } });
    const [sub, ...rest] = positionals;
    const listed = listOrRevoke(sub, rest, { dataDir: common.data, kind: 'webhook', label: 'webhook', command: 'hooks', json: values.json });
    if (listed !== null) return listed;
    if (sub === 'issue') {
      if (rest.length !== 2) throw new UsageError('give a tenant and a hook name');
      const ttl = ttlSeconds(values.ttl, DEFAULT_TTL_S);
      const tenant = existingTenant(rest[0]!, common.tenants);
      const db = openWarrenDb(common.data);
      try {
        const store = new GatedStore(db);
        let target: string;
        try {
          target = webhookTarget(store, tenant, rest[1]!);
        } catch (error) {
          if (error instanceof ToolError) throw new UsageError(error.message);
          throw error;
        }
        const t = mintToken(store, { tenant, kind: 'webhook', target, ttlS: ttl, hmac: values.hmac });
        const base = (await findGateway(common.data))?.url ?? '<gateway URL>';
        process.stdout.write(
          `webhook ${t.id} for ${tenant} on ${t.target}, expires ${t.expiresAt.toISOString()}\n` +
            `POST ${base}/hook/${t.secret}\n` +
            (t.hmacKey ? `HMAC key (X-Hub-Signature-256): ${t.hmacKey}\n` : '') +
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
