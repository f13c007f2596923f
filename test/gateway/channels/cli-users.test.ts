// `warren users` as an operator runs it (the built CLI): codes printed once, memberships listed per world, removal.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { ClassroomStore } from '../../../gateway/channels/users.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { warren } from '../../helpers/cli.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';

let tree: TempTree;
beforeEach(() => {
  tree = tempTree({ 'acme/student_01/': '', 'acme/ta_01/': '', 'globex/instructor_01/': '', 'acme/support/': '' });
});
afterEach(() => tree.cleanup());

const users = (...args: string[]) => warren(['users', ...args, '--tenants', tree.tenants, '--data', tree.data]);

/** Redeems a printed code the way a chat's /pair does. */
function pair(user: string, name: string, output: string): void {
  const secret = /\/pair (wrn_\S+)/.exec(output)![1]!;
  const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  try {
    expect(new ClassroomStore(db, new GatedStore(db)).pair({ id: user, name }, secret, { adapterWorld: null, groupExists: () => true }).ok).toBe(true);
  } finally {
    db.close();
  }
}

describe('warren users', () => {
  it('prints a pairing code for a role group, and lists who paired, by world', () => {
    const invite = users('invite', 'acme/ta_01', '--ttl', '600');
    expect(invite.status).toBe(0);
    expect(invite.stdout).toMatch(/^pairing code for acme\/ta_01 \(ta\), token tok_\w+, single use, expires \S+\.\nSend it in a chat with the bot as: \/pair wrn_\S+\n$/);
    pair('tg:5551234', 'Ann', invite.stdout);
    pair('tg:5551234', 'Ann', users('invite', 'acme/student_01').stdout);
    pair('tg:77', 'Cy', users('invite', 'globex/instructor_01').stdout);

    const all = users();
    expect(all.status).toBe(0);
    const lines = all.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^USER\s+NAME\s+ROLE\s+GROUP\s+PAIRED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 4))).toEqual([
      ['tg:5551234', 'Ann', 'student', 'acme/student_01'],
      ['tg:5551234', 'Ann', 'ta', 'acme/ta_01'],
      ['tg:77', 'Cy', 'instructor', 'globex/instructor_01'],
    ]);
    const globex = users('list', '--world', 'globex', '--json');
    expect(globex.stdout.trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ user: 'tg:77', role: 'instructor', tenant: 'globex/instructor_01' }),
    ]);

    expect(users('remove', 'tg:5551234', 'acme/ta_01').stdout).toBe('removed 1 membership of tg:5551234\n');
    expect(users('list', '--world', 'acme').stdout).not.toContain('acme/ta_01');
    const again = users('remove', 'tg:5551234', 'acme/ta_01');
    expect([again.status, again.stderr]).toEqual([1, 'warren users: tg:5551234 has no membership of acme/ta_01\n']);
  });

  it('says so when nobody has paired, and refuses groups without a role and bad options', () => {
    expect(users('invite', 'acme/student_01').status).toBe(0); // creates the data, pairs nobody
    expect(users().stdout).toBe('no paired users\n');
    const plain = users('invite', 'acme/support');
    expect([plain.status, plain.stderr.split('\n')[0]]).toEqual([
      2,
      'warren users: acme/support carries no classroom role: pairing codes are for <world>/student_NN, ta_NN or instructor_NN',
    ]);
    expect(users('invite', 'acme/student_01', '--ttl', 'soon').status).toBe(2);
    expect(users('invite', 'acme/student_01', '--ttl', '5').stderr).toMatch(/between 60 and/);
    expect(users('frobnicate').status).toBe(2);
    const missing = warren(['users', '--data', `${tree.data}-nope`]);
    expect([missing.status, missing.stderr]).toEqual([1, `warren users: no warren data at ${tree.data}-nope\n`]);
  });
});
