// `warren tokens issue|list|revoke`: scoped API tokens. A token reaches one world or team (its scope) and every tenant
// below it, read-only or read-write; the secret is printed once and stored only as a hash.
import { hasTable, openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { ApiTokens, parseTtl } from '../http/api-tokens.js';
import { GATEWAY_MIGRATIONS } from '../migrations.js';

const command: Command = {
  summary: 'issue, list and revoke scoped API tokens',
  usage: `Usage: warren tokens issue --scope TENANT [--read] [--ttl 30d] [--note TEXT]
       warren tokens list [--json]
       warren tokens revoke <id>

issue    prints a new token once (Authorization: Bearer <token>); it reaches TENANT and every tenant below it,
         read and write, or read only with --read; --ttl 30m|12h|7d makes it expire (default: until revoked)
list     every token: id, scope, access, created, expires, revoked (never the secret)
revoke   the token stops working at once`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, {
      scope: { type: 'string' },
      read: { type: 'boolean' },
      ttl: { type: 'string' },
      note: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [sub, ...rest] = positionals;
    // Listing never creates DATA (a mistyped --data says so); issuing and revoking write the table.
    const db = sub === 'list' ? openDataReadOnly(common.data) : openWarrenDb(common.data, GATEWAY_MIGRATIONS);
    try {
      const tokens = new ApiTokens(db);
      if (sub === 'issue' && rest.length === 0) {
        if (!values.scope) throw new UsageError('issue needs --scope TENANT');
        const scope = parseTenantPath(values.scope);
        const ttlMs = values.ttl === undefined ? undefined : parseTtl(values.ttl);
        if (ttlMs === null) throw new UsageError('--ttl takes a number and m, h or d (30m, 12h, 7d)');
        const { token, row } = tokens.issue({ scope, access: values.read ? 'read' : 'write', ttlMs, note: values.note });
        process.stdout.write(
          `${token}\n` +
            `id ${row.id}: ${row.access} on ${row.scope} and below, ${row.expires_at ? `expires ${row.expires_at}` : 'until revoked'}\n` +
            'shown once: store it now (only its hash is kept)\n',
        );
        return 0;
      }
      if (sub === 'list' && rest.length === 0) {
        const rows = hasTable(db, 'api_tokens') ? tokens.list() : [];
        if (values.json) for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
        else
          for (const r of rows) {
            const state = r.revoked_at ? `revoked ${r.revoked_at}` : r.expires_at ? `expires ${r.expires_at}` : 'until revoked';
            process.stdout.write(`${r.id}  ${r.access.padEnd(5)} ${r.scope.padEnd(32)} created ${r.created_at}  ${state}\n`);
          }
        return 0;
      }
      if (sub === 'revoke' && rest.length === 1) {
        if (!tokens.revoke(rest[0]!)) {
          process.stderr.write(`no live token ${rest[0]}\n`);
          return 1;
        }
        process.stdout.write(`revoked ${rest[0]}\n`);
        return 0;
      }
      throw new UsageError('expected issue, list or revoke <id>');
    } finally {
      db.close();
    }
  },
};
export default command;
