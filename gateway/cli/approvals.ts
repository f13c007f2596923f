// `warren approvals`: unknown senders waiting for an operator. Approving lets the sender through in that chat of
// that world and stores their held first message (the running warren's turn loop picks it up); denying keeps them out.
import { existsSync } from 'node:fs';
import { parse, UsageError, type Command } from '../../core/command.js';
import { silentLogger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { openWarrenDb, warrenDbPath } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { ChannelInbound } from '../channels/inbound-sink.js';
import { GATEWAY_MIGRATIONS } from '../migrations.js';

const command: Command = {
  summary: 'list, approve or deny unknown senders waiting to reach an agent',
  usage: `Usage: warren approvals [list] [--all] [--json]
       warren approvals approve <id>
       warren approvals deny <id>

list shows pending requests (--all: decided ones too): id, world, chat, sender, and their first message.`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { all: { type: 'boolean' }, json: { type: 'boolean' } });
    const [action = 'list', id, ...rest] = positionals;
    if (rest.length) throw new UsageError('too many arguments');
    if (!existsSync(warrenDbPath(common.data))) throw new Error(`no warren data at ${common.data}`);
    const db = openWarrenDb(common.data, GATEWAY_MIGRATIONS);
    try {
      const registry = new TenantRegistry(common.tenants, silentLogger());
      registry.loadAll();
      const sink = new ChannelInbound({ db, store: new GatedStore(db), registry, log: silentLogger() });
      if (action === 'list') {
        if (id !== undefined) throw new UsageError('list takes no id');
        for (const a of sink.approvals.list(values.all ? null : 'pending')) {
          if (values.json) process.stdout.write(JSON.stringify(a) + '\n');
          else {
            const who = a.sender_name ? `${a.sender} (${a.sender_name})` : a.sender;
            process.stdout.write(`${a.id}  ${a.state.padEnd(8)} ${a.world.padEnd(16)} ${a.chat.padEnd(20)} ${who}: ${JSON.stringify(a.event.text.slice(0, 80))}\n`);
          }
        }
        return 0;
      }
      if (action !== 'approve' && action !== 'deny') throw new UsageError(`unknown action "${action}" (list, approve, deny)`);
      if (!id) throw new UsageError(`${action} takes an approval id (see "warren approvals")`);
      const request = sink.approvals.get(id);
      if (!request) throw new Error(`no approval ${id}`);
      if (request.state !== 'pending') throw new Error(`${id} is ${request.state} already`);
      const { outcome } = sink.decide(id, action === 'approve' ? 'approved' : 'denied');
      if (action === 'deny') process.stdout.write(`denied ${request.sender} in ${request.chat} (${request.world})\n`);
      else {
        const stored = outcome?.kind === 'stored' ? outcome.messages.map((m) => `${m.tenant} #${m.id}`).join(', ') : outcome?.kind;
        process.stdout.write(`approved ${request.sender} in ${request.chat} (${request.world}); their first message: ${stored}\n`);
      }
      return 0;
    } finally {
      db.close();
    }
  },
};
export default command;
