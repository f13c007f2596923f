// `warren routes`: every chat wired to a tenant, from PERSONA.md `channels:` (with file:line) and from set_route
// (with the tenant that set it), as the router sees them.
import { existsSync } from 'node:fs';
import { openDataReadOnly, parse, type Command } from '../../core/command.js';
import { silentLogger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { wiringsOf } from '../channels/inbound-sink.js';

const command: Command = {
  summary: 'list the chats wired to tenants (PERSONA.md channels and set_route routes)',
  usage: `Usage: warren routes [--json]

One line per wiring: chat, tenant, session mode, engage mode, unknown senders, what happens to messages that do
not engage, and where it was wired (tenants/<path>/PERSONA.md:<line>, or "set_route by <tenant>"). A PERSONA.md
entry wins over a set_route route for the same chat and tenant.`,
  async run(argv, common) {
    const { values } = parse(argv, { json: { type: 'boolean' } }, false);
    const registry = new TenantRegistry(common.tenants, silentLogger());
    registry.loadAll();
    let routes: { chat: string; tenant: string; created_by: string }[] = [];
    if (existsSync(`${common.data}/warren.db`)) {
      const db = openDataReadOnly(common.data);
      try {
        routes = db.prepare(`SELECT chat, tenant, created_by FROM routes ORDER BY chat`).all() as typeof routes;
      } finally {
        db.close();
      }
    }
    for (const w of wiringsOf(registry, routes)) {
      const row = { ...w, pattern: w.pattern?.source ?? null };
      if (values.json) process.stdout.write(JSON.stringify(row) + '\n');
      else
        process.stdout.write(
          `${w.chat.padEnd(24)} -> ${w.tenant.padEnd(24)} ${w.session.padEnd(12)} ${w.engage}${w.pattern ? ` /${w.pattern.source}/` : ''}` +
            `  unknown: ${w.unknown}  others: ${w.others}  (${w.source})\n`,
        );
    }
    return 0;
  },
};
export default command;
