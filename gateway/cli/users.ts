// `warren users`: people paired to classroom groups (list | invite <group> | remove <user> [<group>]).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hasTable, openDataReadOnly, parse, UsageError, type Command } from '../../core/command.js';
import { parseTenantPath } from '../../core/tenant-path.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { roleOfGroup } from '../channels/roles.js';
import { ClassroomStore, DEFAULT_INVITE_TTL_S, type MembershipRow } from '../channels/users.js';
import { GATEWAY_MIGRATIONS } from '../migrations.js';

const USAGE = `Usage: warren users [list] [--world W] [--json]
       warren users invite <group> [--ttl SECONDS]
       warren users remove <user> [<group>]

A group named <world>/student_NN, ta_NN or instructor_NN carries that role. "invite" prints a pairing code (single
use, default lifetime ${DEFAULT_INVITE_TTL_S / 86400} days); a person sends "/pair <code>" in a chat with the bot, which binds
their platform id (e.g. tg:5551234) to the group's role. "list" shows users, roles and memberships (--world: one
world's); "remove" ends a user's membership of one group, or all of them.`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** The rows `warren users` prints for these memberships. PURE. */
export function formatMemberships(rows: readonly MembershipRow[]): string {
  if (rows.length === 0) return 'no paired users\n';
  return table(['USER', 'NAME', 'ROLE', 'GROUP', 'PAIRED'], rows.map((r) => [r.user, r.name ?? '-', r.role, r.tenant, r.paired_at]));
}

const command: Command = {
  summary: 'classroom users and roles: list, pairing codes, remove',
  usage: USAGE,
  async run(argv, common) {
    const { values, positionals } = parse(argv, {
      world: { type: 'string' },
      json: { type: 'boolean' },
      ttl: { type: 'string' },
    });
    const [sub = 'list', ...args] = positionals;
    if (sub === 'list') {
      if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}"`);
      if (values.ttl !== undefined) throw new UsageError('--ttl goes with "invite"');
      const world = values.world === undefined ? undefined : parseTenantPath(values.world);
      const db = openDataReadOnly(common.data);
      try {
        // A read-only reader cannot create the tables: without them nobody has paired here yet.
        const rows = hasTable(db, 'memberships') ? new ClassroomStore(db, new GatedStore(db)).memberships(world) : [];
        if (values.json) for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write(formatMemberships(rows));
        return 0;
      } finally {
        db.close();
      }
    }
    if (values.world !== undefined || values.json) throw new UsageError(`--world and --json go with "list"`);
    if (sub === 'invite') {
      if (args.length !== 1) throw new UsageError('give one group, e.g. acme/student_01');
      if (values.ttl !== undefined && !/^[0-9]+$/.test(values.ttl)) throw new UsageError(`--ttl takes seconds, not "${values.ttl}"`);
      const group = parseTenantPath(args[0]!);
      if (!roleOfGroup(group)) {
        throw new UsageError(`${group} carries no classroom role: pairing codes are for <world>/student_NN, ta_NN or instructor_NN`);
      }
      const ttl = values.ttl === undefined ? DEFAULT_INVITE_TTL_S : Number(values.ttl);
      if (!existsSync(join(common.tenants, ...group.split('/')))) {
        process.stderr.write(`warning: ${group} does not exist in ${common.tenants} (yet); the code pairs only once it does\n`);
      }
      const db = openWarrenDb(common.data, GATEWAY_MIGRATIONS);
      try {
        const code = new ClassroomStore(db, new GatedStore(db)).invite(group, ttl);
        process.stdout.write(
          `pairing code for ${group} (${code.role}), token ${code.id}, single use, expires ${code.expiresAt.toISOString()}.\n` +
            `Send it in a chat with the bot as: /pair ${code.secret}\n`,
        );
        return 0;
      } finally {
        db.close();
      }
    }
    if (sub === 'remove' || sub === 'rm') {
      if (values.ttl !== undefined) throw new UsageError('--ttl goes with "invite"');
      if (args.length < 1 || args.length > 2) throw new UsageError('give a user (e.g. tg:5551234) and optionally one group');
      const [user, rawGroup] = args as [string, string | undefined];
      const group = rawGroup === undefined ? undefined : parseTenantPath(rawGroup);
      const db = openWarrenDb(common.data, GATEWAY_MIGRATIONS);
      try {
        const n = new ClassroomStore(db, new GatedStore(db)).remove(user, group);
        if (n === 0) {
          process.stderr.write(`warren users: ${user} has no membership${group ? ` of ${group}` : ''}\n`);
          return 1;
        }
        process.stdout.write(`removed ${n} membership${n === 1 ? '' : 's'} of ${user}\n`);
        return 0;
      } finally {
        db.close();
      }
    }
    throw new UsageError(`unknown subcommand "${sub}"`);
  },
};
export default command;
