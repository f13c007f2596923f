// `warren send <tenant> "text"`: through the running gateway when there is one, else straight into the queue.
import { parse, UsageError, type Command } from '../../core/command.js';
import { silentLogger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { acceptMessage } from '../inbound.js';
import { GATEWAY_MIGRATIONS } from '../migrations.js';
import { findGateway } from './client.js';

const command: Command = {
  summary: 'send a message to a tenant',
  usage: `Usage: warren send <tenant> <text> [--topic T] [--sender NAME] [--chat ID]

Stores the message for the tenant. With "warren up" running it is handled at once; otherwise it waits in the queue.`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, {
      topic: { type: 'string' },
      sender: { type: 'string' },
      chat: { type: 'string' },
    });
    if (positionals.length !== 2) throw new UsageError('give a tenant and the text (quote it)');
    const [tenant, text] = positionals as [string, string];
    const message = { tenant, text, topic: values.topic, sender: values.sender, chat: values.chat };
    const gateway = await findGateway(common.data);
    if (gateway) {
      const res = await gateway.request('POST', '/v1/messages', message);
      if (res.status !== 202) throw new Error(res.body?.error ?? `gateway answered ${res.status}`);
      process.stdout.write(`queued message ${res.body.id} for ${res.body.tenant}\n`);
      return 0;
    }
    const registry = new TenantRegistry(common.tenants, silentLogger());
    registry.loadAll();
    const db = openWarrenDb(common.data, GATEWAY_MIGRATIONS);
    try {
      const accepted = acceptMessage(new GatedStore(db), registry, message);
      process.stdout.write(`queued message ${accepted.id} for ${accepted.tenant} (warren is not running; it waits)\n`);
      return 0;
    } finally {
      db.close();
    }
  },
};
export default command;
