// Pairing codes and memberships on a real warren.db: invite tokens redeemed once, for the role the group's folder
// name carries; every code that does not pair is refused with the same words.
import { describe, expect, it } from 'vitest';
import { mintToken } from '../../../gated/tools/tokens.js';
import { CODE_REFUSED, ClassroomStore, judgeInvite } from '../../../gateway/channels/users.js';
import { useRunDb } from '../../helpers/run-db.js';

const HOUR = 3600;

describe('judgeInvite', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const token = { id: 'tok_1', kind: 'invite', target: 'acme/ta_01', expires_at: '2026-12-01T13:00:00Z', revoked_at: null };
  const facts = { redeemed: false, now, adapterWorld: 'acme', groupExists: true };

  it.each([
    ['a live invite', token, facts, { ok: true, group: 'acme/ta_01', role: 'ta', token: 'tok_1' }],
    ['through an installation-wide adapter', token, { ...facts, adapterWorld: null }, { ok: true, group: 'acme/ta_01', role: 'ta', token: 'tok_1' }],
    ['an unknown code', undefined, facts, { ok: false, reason: CODE_REFUSED }],
    ['a used code', token, { ...facts, redeemed: true }, { ok: false, reason: CODE_REFUSED }],
    ['an expired code', { ...token, expires_at: '2026-12-01T12:00:00Z' }, facts, { ok: false, reason: CODE_REFUSED }],
    ['an unreadable expiry', { ...token, expires_at: 'soon' }, facts, { ok: false, reason: CODE_REFUSED }],
    ['a revoked code', { ...token, revoked_at: '2026-12-01T11:00:00Z' }, facts, { ok: false, reason: CODE_REFUSED }],
    ['a webhook token', { ...token, kind: 'webhook' }, facts, { ok: false, reason: CODE_REFUSED }],
    ["another world's bot", token, { ...facts, adapterWorld: 'globex' }, { ok: false, reason: CODE_REFUSED }],
    ['a group with no role', { ...token, target: 'acme/support' }, facts, { ok: false, reason: 'that code is for acme/support, whose folder name carries no classroom role' }],
    ['a removed group', token, { ...facts, groupExists: false }, { ok: false, reason: 'that code is for acme/ta_01, which does not exist (any more)' }],
  ])('%s', (_what, t, f, expected) => {
    expect(judgeInvite(t, f)).toEqual(expected);
  });
});

describe('ClassroomStore pairing', () => {
  const f = useRunDb();
  const store = () => new ClassroomStore(f.db, f.store);
  const exists = () => true;
  const opts = { adapterWorld: 'acme', groupExists: exists };

  it('pairs a platform user to the role the folder name carries, once', () => {
    const classroom = store();
    const code = classroom.invite('acme/ta_01', HOUR);
    expect(code.role).toBe('ta');
    expect(classroom.pair({ id: 'tg:5551234', name: 'Ann' }, code.secret, opts)).toEqual({ ok: true, group: 'acme/ta_01', role: 'ta', token: code.id });
    expect(classroom.bindings('tg:5551234')).toEqual([{ group: 'acme/ta_01', role: 'ta' }]);
    // Single use: nobody pairs with it again, not even the same person.
    expect(classroom.pair({ id: 'tg:999' }, code.secret, opts)).toEqual({ ok: false, reason: CODE_REFUSED });
    expect(classroom.pair({ id: 'tg:5551234' }, code.secret, opts)).toEqual({ ok: false, reason: CODE_REFUSED });
    expect(classroom.bindings('tg:999')).toEqual([]);
    // The invite is gated's token, stored by hash only, issued in the group's world.
    const [row] = f.store.tokens('acme');
    expect(row).toMatchObject({ id: code.id, kind: 'invite', target: 'acme/ta_01' });
    expect(JSON.stringify(f.db.prepare('SELECT * FROM tokens').all())).not.toContain(code.secret);
  });

  it('refuses wrong, expired and revoked codes with the same message, and binds nothing', () => {
    const classroom = store();
    const expired = classroom.invite('acme/student_01', 60);
    const revoked = classroom.invite('acme/student_02', HOUR);
    expect(f.store.revokeToken('acme', revoked.id)).toBe(true);
    const later = new Date(Date.now() + 61_000);
    const refusals = [
      classroom.pair({ id: 'tg:1' }, 'wrn_not-a-code', opts),
      classroom.pair({ id: 'tg:1' }, expired.secret, { ...opts, now: later }),
      classroom.pair({ id: 'tg:1' }, revoked.secret, opts),
      classroom.pair({ id: 'tg:1' }, '', opts),
    ];
    expect(refusals).toEqual(refusals.map(() => ({ ok: false, reason: CODE_REFUSED })));
    expect(classroom.bindings('tg:1')).toEqual([]);
    expect(f.db.prepare('SELECT COUNT(*) AS n FROM pairings').get()).toEqual({ n: 0 });
  });

  it("does not pair through another world's bot, nor into a group that is gone; the code stays usable", () => {
    const classroom = store();
    const code = classroom.invite('acme/student_03', HOUR);
    expect(classroom.pair({ id: 'tg:1' }, code.secret, { ...opts, adapterWorld: 'globex' })).toEqual({ ok: false, reason: CODE_REFUSED });
    expect(classroom.pair({ id: 'tg:1' }, code.secret, { ...opts, groupExists: () => false }).ok).toBe(false);
    expect(classroom.pair({ id: 'tg:1' }, code.secret, opts).ok).toBe(true);
  });

  it("takes the role from the group's folder name at pairing time, also for an invite an agent issued", () => {
    const classroom = store();
    // An agent's issue_token(kind=invite) for a group without a role prefix pairs nobody to a role.
    const plain = mintToken(f.store, { tenant: 'acme', kind: 'invite', target: 'acme/support', ttlS: HOUR });
    expect(classroom.pair({ id: 'tg:1' }, plain.secret, opts)).toEqual({
      ok: false,
      reason: 'that code is for acme/support, whose folder name carries no classroom role',
    });
    const instructor = mintToken(f.store, { tenant: 'acme', kind: 'invite', target: 'acme/instructor_01', ttlS: HOUR });
    expect(classroom.pair({ id: 'tg:1' }, instructor.secret, opts)).toMatchObject({ ok: true, role: 'instructor' });
    expect(() => classroom.invite('acme/support', HOUR)).toThrow(/carries no classroom role/);
    expect(() => classroom.invite('acme/student_01', 10)).toThrow(/between 60 and/);
  });

  it('lets one user hold several bindings, lists them by world, and removes them', () => {
    const classroom = store();
    for (const group of ['acme/student_01', 'acme/ta_02', 'globex/ta_01']) {
      expect(classroom.pair({ id: 'tg:7', name: 'Bo' }, classroom.invite(group, HOUR).secret, { adapterWorld: null, groupExists: exists }).ok).toBe(true);
    }
    expect(classroom.pair({ id: 'tg:8' }, classroom.invite('acme/student_02', HOUR).secret, opts).ok).toBe(true);
    expect(classroom.bindings('tg:7')).toEqual([
      { group: 'acme/student_01', role: 'student' },
      { group: 'acme/ta_02', role: 'ta' },
      { group: 'globex/ta_01', role: 'ta' },
    ]);
    expect(classroom.memberships('globex').map((m) => [m.user, m.name, m.tenant, m.role])).toEqual([['tg:7', 'Bo', 'globex/ta_01', 'ta']]);
    expect(classroom.memberships('acme').map((m) => `${m.user} ${m.tenant}`)).toEqual(['tg:7 acme/student_01', 'tg:7 acme/ta_02', 'tg:8 acme/student_02']);
    expect(classroom.remove('tg:7', 'acme/ta_02')).toBe(1);
    expect(classroom.bindings('tg:7').map((b) => b.group)).toEqual(['acme/student_01', 'globex/ta_01']);
    expect(classroom.remove('tg:7')).toBe(2);
    expect(classroom.remove('tg:7')).toBe(0);
    expect(f.db.prepare(`SELECT id FROM users ORDER BY id`).all()).toEqual([{ id: 'tg:8' }]);
  });
});
