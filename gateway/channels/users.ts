// People paired to classroom groups (users, memberships, pairings) and paused groups, in DATA/warren.db. These are
// the gateway's tables, written only here; the invite tokens behind pairing codes are gated's, written only through
// GatedStore. Redeeming a code is one IMMEDIATE transaction, so two chats racing with one code pair once.
import type { Db } from '../../core/db.js';
import { nowIso } from '../../core/warren-db.js';
import type { TenantPath } from '../../core/tenant-path.js';
import type { GatedStore, TokenRow } from '../../gated/store.js';
import { hashToken, MAX_TTL_S, mintToken } from '../../gated/tools/tokens.js';
import { roleOfGroup, type Binding, type Role } from './roles.js';

export const DEFAULT_INVITE_TTL_S = 7 * 24 * 3600;
export const MIN_INVITE_TTL_S = 60;

/** One message for every code that does not pair, so a guesser learns nothing about which codes exist. */
export const CODE_REFUSED = 'that pairing code is not valid (unknown, used, expired or revoked)';

export type PairOutcome =
  | { ok: true; group: TenantPath; role: Role; token: string }
  | { ok: false; reason: string };

/**
 * Whether an invite token pairs now, and to what. PURE. `adapterWorld` is the world of the bot the code came through
 * (null for installation-wide adapters): a world's bot never pairs anyone into another world.
 */
export function judgeInvite(
  token: Pick<TokenRow, 'id' | 'kind' | 'target' | 'expires_at' | 'revoked_at'> | undefined,
  facts: { redeemed: boolean; now: Date; adapterWorld: string | null; groupExists: boolean },
): PairOutcome {
  if (!token || token.kind !== 'invite' || token.revoked_at !== null || facts.redeemed) return { ok: false, reason: CODE_REFUSED };
  const expires = Date.parse(token.expires_at);
  if (!Number.isFinite(expires) || expires <= facts.now.getTime()) return { ok: false, reason: CODE_REFUSED };
  if (facts.adapterWorld !== null && token.target.split('/')[0] !== facts.adapterWorld) return { ok: false, reason: CODE_REFUSED };
  const held = roleOfGroup(token.target);
  if (!held) return { ok: false, reason: `that code is for ${token.target}, whose folder name carries no classroom role` };
  if (!facts.groupExists) return { ok: false, reason: `that code is for ${token.target}, which does not exist (any more)` };
  return { ok: true, group: token.target, role: held.role, token: token.id };
}

export interface MembershipRow {
  user: string;
  name: string | null;
  tenant: string;
  role: Role;
  token: string;
  paired_at: string;
}

export interface GroupStatus {
  running: number;
  /** Conversations (topics) with messages waiting for a turn, and how many messages wait. */
  waitingTopics: number;
  waitingMessages: number;
  paused: boolean;
}

export class ClassroomStore {
  private readonly s;

  constructor(
    readonly db: Db,
    private readonly gated: GatedStore,
  ) {
    if (gated.db !== db) throw new Error('the classroom store and the gated store must share one connection (one transaction)');
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      redeemed: p(`SELECT 1 FROM pairings WHERE token = ?`),
      upsertUser: p(`INSERT INTO users (id, name, created_at) VALUES (?, ?, ?)
                     ON CONFLICT (id) DO UPDATE SET name = COALESCE(excluded.name, users.name)`),
      insertPairing: p(`INSERT INTO pairings (token, user, tenant, paired_at) VALUES (?, ?, ?, ?)`),
      upsertMembership: p(`INSERT INTO memberships (user, tenant, role, token, paired_at) VALUES (?, ?, ?, ?, ?)
                           ON CONFLICT (user, tenant) DO UPDATE SET role = excluded.role, token = excluded.token,
                           paired_at = excluded.paired_at`),
      bindings: p(`SELECT tenant AS "group", role FROM memberships WHERE user = ? ORDER BY tenant`),
      memberships: p(`SELECT m.user, u.name, m.tenant, m.role, m.token, m.paired_at FROM memberships m
                      JOIN users u ON u.id = m.user ORDER BY m.user, m.tenant`),
      deleteMembership: p(`DELETE FROM memberships WHERE user = ? AND tenant = ?`),
      deleteMemberships: p(`DELETE FROM memberships WHERE user = ?`),
      deleteUser: p(`DELETE FROM users WHERE id = ? AND NOT EXISTS (SELECT 1 FROM memberships WHERE user = ?)`),
      pause: p(`INSERT INTO paused (tenant, by, at) VALUES (?, ?, ?) ON CONFLICT (tenant) DO NOTHING`),
      resume: p(`DELETE FROM paused WHERE tenant = ?`),
      isPaused: p(`SELECT 1 FROM paused WHERE tenant = ?`),
      running: p(`SELECT COUNT(*) AS n FROM runs WHERE tenant = ? AND status = 'running'`),
      runningTopic: p(`SELECT 1 FROM runs WHERE tenant = ? AND topic = ? AND status = 'running' LIMIT 1`),
      waiting: p(`SELECT COUNT(DISTINCT topic) AS topics, COUNT(*) AS messages FROM messages WHERE tenant = ? AND run IS NULL`),
    };
  }

  /**
   * Issues a pairing code for a group whose folder name carries a role: an invite token, recorded as issued by the
   * group's world (whose agent may list and revoke it like its own). The secret is returned once.
   */
  invite(group: TenantPath, ttlS = DEFAULT_INVITE_TTL_S): { id: string; secret: string; expiresAt: Date; role: Role } {
    const held = roleOfGroup(group);
    if (!held) throw new Error(`${group} carries no classroom role: pairing codes are for <world>/student_NN, ta_NN or instructor_NN`);
    if (!Number.isInteger(ttlS) || ttlS < MIN_INVITE_TTL_S || ttlS > MAX_TTL_S) {
      throw new Error(`a pairing code lives between ${MIN_INVITE_TTL_S} and ${MAX_TTL_S} seconds, not ${ttlS}`);
    }
    const minted = mintToken(this.gated, { tenant: held.world, kind: 'invite', target: group, ttlS });
    return { ...minted, role: held.role };
  }

  /** Redeems a pairing code for a platform user: single use, atomically. */
  pair(
    user: { id: string; name?: string },
    secret: string,
    opts: { adapterWorld: string | null; groupExists: (group: TenantPath) => boolean; now?: Date },
  ): PairOutcome {
    const now = opts.now ?? new Date();
    const redeem = this.db.transaction((): PairOutcome => {
      const token = this.gated.tokenByHash(hashToken(secret));
      const outcome = judgeInvite(token, {
        redeemed: token !== undefined && this.s.redeemed.get(token.id) !== undefined,
        now,
        adapterWorld: opts.adapterWorld,
        groupExists: token !== undefined && opts.groupExists(token.target),
      });
      if (!outcome.ok) return outcome;
      const at = now.toISOString();
      this.s.upsertUser.run(user.id, user.name ?? null, at);
      this.s.insertPairing.run(outcome.token, user.id, outcome.group, at);
      this.s.upsertMembership.run(user.id, outcome.group, outcome.role, outcome.token, at);
      return outcome;
    });
    return redeem.immediate();
  }

  bindings(user: string): Binding[] {
    return this.s.bindings.all(user) as Binding[];
  }

  /** Every membership, or those in one world (the world itself and the groups below it). */
  memberships(world?: string): MembershipRow[] {
    const rows = this.s.memberships.all() as MembershipRow[];
    return world === undefined ? rows : rows.filter((r) => r.tenant === world || r.tenant.startsWith(`${world}/`));
  }

  /** Removes a user's membership of one group, or all of them; the user goes once no membership is left. */
  remove(user: string, group?: TenantPath): number {
    return this.db.transaction(() => {
      const n = group === undefined ? this.s.deleteMemberships.run(user).changes : this.s.deleteMembership.run(user, group).changes;
      this.s.deleteUser.run(user, user);
      return n;
    })();
  }

  /** False when it was paused already. */
  pause(group: TenantPath, by: string): boolean {
    return this.s.pause.run(group, by, nowIso()).changes > 0;
  }

  /** False when it was not paused. */
  resume(group: TenantPath): boolean {
    return this.s.resume.run(group).changes > 0;
  }

  isPaused(group: TenantPath): boolean {
    return this.s.isPaused.get(group) !== undefined;
  }

  /**
   * Forgets a conversation's harness session so its next turn starts afresh. Not while one of its turns runs: that
   * turn's end would record its session again, so the reset would not hold ('running': ask again afterwards).
   */
  resetConversation(group: TenantPath, topic: string): 'reset' | 'fresh' | 'running' {
    return this.db.transaction(() => {
      if (this.s.runningTopic.get(group, topic) !== undefined) return 'running' as const;
      return this.gated.clearTopicSession(group, topic) ? ('reset' as const) : ('fresh' as const);
    })();
  }

  status(group: TenantPath): GroupStatus {
    const waiting = this.s.waiting.get(group) as { topics: number; messages: number };
    return {
      running: (this.s.running.get(group) as { n: number }).n,
      waitingTopics: waiting.topics,
      waitingMessages: waiting.messages,
      paused: this.isPaused(group),
    };
  }
}
