// `warren channels`: each world's adapters and their state (as the running warren last wrote them to
// DATA/channels.json), the wired chats, the last delivery error per chat and the rows that failed for good.
import { existsSync, readFileSync } from 'node:fs';
import { hasTable, openDataReadOnly, parse, type Command } from '../../core/command.js';
import { silentLogger } from '../../core/log.js';
import { TenantRegistry } from '../../core/tree/registry.js';
import { channelsStatePath, type AdapterReport } from '../channels/hub.js';
import { wiringsOf } from '../channels/inbound-sink.js';
import { channelsToken } from './channels-token.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The adapters of the running warren; null when none is running on DATA. */
export function liveAdapters(dataDir: string): AdapterReport[] | null {
  const file = channelsStatePath(dataDir);
  if (!existsSync(file)) return null;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; adapters: AdapterReport[] };
    return alive(state.pid) ? state.adapters : null;
  } catch {
    return null;
  }
}

const command: Command = {
  summary: "list each world's channel adapters, their state, wired chats and delivery errors",
  usage: `Usage: warren channels [--json]
       warren channels token <world> [<name>] [--remove]   (the value on standard input)

Adapters (with their state: connected, or error and why) as the running warren reports them; the chats wired in
PERSONA.md files and by set_route (see "warren routes" for where); per chat, the last delivery error and the outbox
rows that failed for good (never dropped silently: they stay listed here and in GET /v1/messages).`,
  async run(argv, common) {
    if (argv[0] === 'token') {
      return channelsToken(argv.slice(1), common, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
    }
    const { values } = parse(argv, { json: { type: 'boolean' } }, false);
    const adapters = liveAdapters(common.data);
    const registry = new TenantRegistry(common.tenants, silentLogger());
    registry.loadAll();
    let routes: { chat: string; tenant: string; created_by: string }[] = [];
    let lastErrors: { chat: string; tenant: string; id: number; delivery_state: string | null; delivery_error: string }[] = [];
    let failed: { id: number; tenant: string; chat: string; delivery_attempts: number; delivery_error: string; created_at: string }[] = [];
    if (existsSync(common.data) && existsSync(`${common.data}/warren.db`)) {
      const db = openDataReadOnly(common.data);
      try {
        routes = db.prepare(`SELECT chat, tenant, created_by FROM routes ORDER BY chat`).all() as typeof routes;
        if (hasTable(db, 'approvals')) {
          lastErrors = db
            .prepare(`SELECT chat, tenant, MAX(id) AS id, delivery_state, delivery_error FROM outbox
                      WHERE delivery_error IS NOT NULL GROUP BY chat, tenant ORDER BY chat`)
            .all() as typeof lastErrors;
          failed = db
            .prepare(`SELECT id, tenant, chat, delivery_attempts, delivery_error, created_at FROM outbox
                      WHERE delivery_state = 'failed' ORDER BY id DESC LIMIT 200`)
            .all() as typeof failed;
        }
      } finally {
        db.close();
      }
    }
    const wired = wiringsOf(registry, routes).map((w) => ({
      tenant: w.tenant, chat: w.chat, session: w.session, engage: w.engage, unknown: w.unknown, others: w.others, source: w.source,
    }));
    if (values.json) {
      process.stdout.write(JSON.stringify({ running: adapters !== null, adapters: adapters ?? [], wired, lastErrors, failed }, null, 2) + '\n');
      return 0;
    }
    const out = (line: string) => process.stdout.write(line + '\n');
    out(adapters ? 'adapters (running warren):' : `adapters: warren is not running on ${common.data}`);
    for (const a of adapters ?? []) {
      out(`  ${a.prefix.padEnd(8)} ${(a.world ?? '(all worlds)').padEnd(20)} ${a.state}${a.error ? `: ${a.error}` : ''}  since ${a.since}`);
    }
    out('wired chats:');
    if (wired.length === 0) out('  none (wire a chat in PERSONA.md "channels:", see docs/channels.md)');
    for (const w of wired) out(`  ${w.chat.padEnd(24)} -> ${w.tenant.padEnd(24)} ${w.session}, ${w.engage}, unknown: ${w.unknown}`);
    if (lastErrors.length) {
      out('last delivery error per chat:');
      for (const e of lastErrors) out(`  ${e.chat.padEnd(24)} ${e.tenant.padEnd(24)} #${e.id} ${e.delivery_error}`);
    }
    if (failed.length) {
      out(`failed rows (${failed.length}):`);
      for (const f of failed) out(`  #${f.id} ${f.created_at} ${f.tenant} -> ${f.chat} after ${f.delivery_attempts} attempt(s): ${f.delivery_error}`);
    }
    return 0;
  },
};
export default command;
