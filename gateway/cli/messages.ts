// `warren messages <tenant>`: what a tenant said (finished turns only).
import { hasTable, openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { OutboxView } from '../outbox-view.js';

const command: Command = {
  summary: "read a tenant's replies and messages",
  usage: `Usage: warren messages <tenant> [--topic T] [--after ID] [--json]`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, {
      topic: { type: 'string' },
      after: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('give one tenant');
    const tenant = parseTenantPath(positionals[0]!);
    const after = Number(values.after ?? 0);
    if (!Number.isInteger(after) || after < 0) throw new UsageError('--after takes a message id');
    const db = openDataReadOnly(common.data);
    try {
      // The outbox view needs the gateway's runs table: without it the gateway has never run here.
      if (!hasTable(db, 'runs')) throw new Error(`no gateway data at ${common.data} (warren up has not run on it)`);
      for (const m of new OutboxView(db).list(tenant, { after, topic: values.topic, limit: 1000 })) {
        if (values.json) process.stdout.write(JSON.stringify(m) + '\n');
        else process.stdout.write(`#${m.id} ${m.created_at} [${m.topic}] ${m.kind} -> ${m.chat ?? '-'}: ${m.text ?? m.reaction ?? m.file_path ?? ''}\n`);
      }
      return 0;
    } finally {
      db.close();
    }
  },
};
export default command;
