// `warren vhosts`: the web listener's virtual hosts. Listing reads DATA/warren.db; setting and removing are tool
// calls as root on root's gated socket (the operator is root), so each change is audited like any other.
import { connect } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { hasTable, openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import { SocketTransport } from '../../core/socket-transport.js';
import { ROOT } from '../../core/tenant-path.js';
import { tenantSocketPath } from '../broker.js';
import type { VhostRow } from '../store.js';

async function callAsRoot(dataDir: string, name: string, args: Record<string, unknown>): Promise<string> {
  const path = tenantSocketPath(dataDir, ROOT);
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (error) => reject(new Error(`gated is not running (cannot reach ${path}: ${error.message}); start "warren up"`)));
  });
  const client = new Client({ name: 'warren-vhosts', version: '0.0.0' });
  await client.connect(new SocketTransport(socket));
  try {
    const result = await client.callTool({ name, arguments: args });
    const text = ((result.content ?? []) as { text?: string }[]).map((c) => c.text ?? '').join('\n');
    if (result.isError) throw new Error(text);
    return text;
  } finally {
    await client.close();
  }
}

const command: Command = {
  summary: "list, set and remove the web listener's virtual hosts (host name -> tenant web/)",
  usage: `Usage: warren vhosts [--json]
       warren vhosts set <host> <tenant>
       warren vhosts remove <host>

A virtual host serves a tenant's web/ (PERSONA.md web: true) at / for that Host header on the web listener
(WARREN_WEB_PORT); without one a site is at /t/<tenant path>/. set and remove are root's set_vhost and
remove_vhost tool calls (audited; gated must be running). See docs/web.md.`,
  async run(argv, common) {
    const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
    const [verb, ...rest] = positionals;
    if (verb === 'set') {
      if (rest.length !== 2) throw new UsageError('give a host name and a tenant: warren vhosts set <host> <tenant>');
      process.stdout.write((await callAsRoot(common.data, 'set_vhost', { host: rest[0], group: rest[1] })) + '\n');
      return 0;
    }
    if (verb === 'remove') {
      if (rest.length !== 1) throw new UsageError('give one host name: warren vhosts remove <host>');
      process.stdout.write((await callAsRoot(common.data, 'remove_vhost', { host: rest[0] })) + '\n');
      return 0;
    }
    if (verb !== undefined && verb !== 'list') throw new UsageError(`unknown subcommand "${verb}" (list, set, remove)`);
    let rows: VhostRow[] = [];
    try {
      const db = openDataReadOnly(common.data);
      try {
        if (hasTable(db, 'vhosts')) rows = db.prepare(`SELECT host, tenant, created_by, created_at FROM vhosts ORDER BY host`).all() as VhostRow[];
      } finally {
        db.close();
      }
    } catch (error) {
      if (!/no warren data/.test((error as Error).message)) throw error;
    }
    for (const r of rows) {
      if (values.json) process.stdout.write(JSON.stringify(r) + '\n');
      else process.stdout.write(`${r.host.padEnd(32)} -> ${r.tenant.padEnd(24)} (set by ${r.created_by} at ${r.created_at})\n`);
    }
    return 0;
  },
};
export default command;
