// One call can never cost other calls their audit rows: arguments nested deep enough to overflow a recursive
// serialiser are audited with a bounded one, and a row that cannot be written fails alone, not with its batch.
// The writer thread: a result is released only once its row is committed (visible to any other connection), stop()
// writes every pending row, and a client that vanishes mid-call still leaves a row for every call it made.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { warrenDbPath } from '../../core/warren-db.js';
import { auditDbPath } from '../../gated/audit-db.js';
import { argsDigest } from '../../gated/audit.js';
import { loadAuditKey } from '../../gated/audit-key.js';
import { Gated } from '../../gated/broker.js';
import { useGated } from '../helpers/gated.js';
import { connectClient } from '../helpers/mcp.js';
import { callFrame, initialised } from '../helpers/raw-socket.js';
import { standardTree } from '../helpers/tree.js';

function deep(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

describe('audit rows under hostile arguments', () => {
  const f = useGated();

  it('an allowed send_message keeps its audit row when a poisoned call shares its batch', async () => {
    const c = await initialised(f.gated.socketPath('acme'));
    const auditBefore = (f.gated.audit.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
    // One write: a legitimate call, then an invalid call whose extra argument is 200k levels deep (~400 KB frame).
    const legit = callFrame(1, 'send_message', { chat: 'local:ops', text: 'wire the money' });
    const poison = callFrame(2, 'send_message', { chat: 'local:ops', text: 'x', junk: 0 }).replace('0}', `${deep(200_000)}}`);
    // The poisoned frame first: it spans several socket reads, so the legitimate one is handled in the same turn.
    c.socket.write(poison + legit);
    const r1 = await c.response(1);
    await c.response(2);
    // The message was queued (the effect happened)...
    const out = f.gated.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE tenant = 'acme' AND text = 'wire the money'").get() as { n: number };
    expect(out.n).toBe(1);
    // ...and both calls have their audit rows.
    await f.gated.audit.flush();
    const auditAfter = (f.gated.audit.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
    expect(auditAfter - auditBefore).toBe(2);
    // And the caller of the legitimate call got its result, not an error.
    expect(r1.error).toBeUndefined();
    c.close();
  });

  it("another tenant's call keeps its audit row when it shares the poisoned batch", async () => {
    const attacker = await initialised(f.gated.socketPath('acme'));
    const victim = await initialised(f.gated.socketPath('globex'));
    const poison = callFrame(0, 'whoami', { junk: 0 }).replace('0}', `${deep(200_000)}}`);
    const ROUNDS = 20;
    for (let i = 1; i <= ROUNDS; i++) {
      const id = 100 + i;
      const text = `victim message ${i}`;
      // Everything but the newline first, so the attacker's frame completes exactly when the victim's call arrives.
      attacker.socket.write(poison.slice(0, -1).replace('"id":0', `"id":${id}`));
      await new Promise((r) => setTimeout(r, 100));
      attacker.socket.write('\n');
      victim.socket.write(callFrame(id, 'send_message', { chat: 'local:globex', text }));
      const reply = await victim.response(id);
      await attacker.response(id);
      // The victim's call itself must go through: a lost call would leave nothing to audit.
      expect(reply.error, JSON.stringify(reply)).toBeUndefined();
      expect(reply.result.isError, JSON.stringify(reply)).toBeFalsy();
    }
    attacker.close();
    victim.close();
    await f.gated.audit.flush();
    const sent = f.gated.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE tenant = 'globex' AND text LIKE 'victim message %'").get() as { n: number };
    const rows = f.gated.audit.db.prepare("SELECT COUNT(*) AS n FROM audit WHERE tenant = 'globex' AND tool = 'send_message' AND decision = 'allow'").get() as { n: number };
    expect({ sent: sent.n, audited: rows.n }).toEqual({ sent: ROUNDS, audited: ROUNDS });
  });
});

describe('the audit writer thread', () => {
  const f = useGated();

  it('a result arrives only once its row is committed: another connection already sees it', async () => {
    const reader = new Database(auditDbPath(f.tree.data), { readonly: true });
    const key = loadAuditKey(f.tree.data, { create: false });
    const rowWith = reader.prepare("SELECT decision, outcome FROM audit WHERE tenant = ? AND tool = 'send_message' AND args_digest = ?");
    const tenants = ['acme', 'acme', 'globex'];
    const clients = await Promise.all(tenants.map((t) => connectClient(f.gated.socketPath(t))));
    // Many calls in flight at once, from several sockets, so rows share group commits.
    const seen = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const c = i % clients.length;
        const args = { chat: `local:${tenants[c]}`, text: `call ${i}` };
        const result = await clients[c]!.callTool({ name: 'send_message', arguments: args });
        expect(result.isError).toBeFalsy();
        return rowWith.get(tenants[c], argsDigest(key, args));
      }),
    );
    expect(seen).toEqual(Array(60).fill({ decision: 'allow', outcome: 'ok' }));
    await Promise.all(clients.map((c) => c.close()));
    reader.close();
  });

  it('while the writer cannot commit, results wait; each arrives with its row in the database', async () => {
    const reader = new Database(auditDbPath(f.tree.data), { readonly: true });
    const whoamiRows = reader.prepare("SELECT COUNT(*) FROM audit WHERE tenant = 'globex' AND tool = 'whoami'").pluck();
    const before = whoamiRows.get() as number;
    // Another connection holds the write lock, as a long write elsewhere would; whoami itself writes nothing.
    const blocker = new Database(auditDbPath(f.tree.data));
    blocker.exec('BEGIN IMMEDIATE');
    const client = await connectClient(f.gated.socketPath('globex'));
    let answered = 0;
    const rowsWhenAnswered: number[] = [];
    const calls = Array.from({ length: 10 }, async () => {
      await client.callTool({ name: 'whoami', arguments: {} });
      answered++;
      rowsWhenAnswered.push((whoamiRows.get() as number) - before);
    });
    await new Promise((r) => setTimeout(r, 300));
    const answeredWhileLocked = answered;
    blocker.exec('COMMIT');
    await Promise.all(calls);
    expect(answeredWhileLocked).toBe(0);
    // Each result found at least as many rows as results had arrived by then.
    expect(rowsWhenAnswered.every((n, i) => n >= i + 1)).toBe(true);
    await client.close();
    blocker.close();
    reader.close();
  });

  it('a row that cannot be written fails alone; the rest of its batch is committed', async () => {
    const row = (text: string) => ({ tenant: 'acme', run: null, tool: 'whoami', decision: 'allow' as const, rule: null, durationUs: 1, outcome: 'ok' as const, args: { text } });
    // All recorded in one turn, so they travel to the writer together; a NULL decision breaks NOT NULL.
    const results = await Promise.allSettled([
      f.gated.audit.record(row('first')),
      f.gated.audit.record({ ...row('broken'), decision: null as never }),
      f.gated.audit.record(row('last')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/audit row not written: NOT NULL constraint failed: audit.decision/);
    const key = loadAuditKey(f.tree.data, { create: false });
    const count = (text: string) => f.gated.audit.db.prepare('SELECT COUNT(*) FROM audit WHERE args_digest = ?').pluck().get(argsDigest(key, { text }));
    expect([count('first'), count('broken'), count('last')]).toEqual([1, 0, 1]);
  });
});

describe('stopping gated and vanishing clients', () => {
  const start = async () => {
    const tree = standardTree();
    const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    return { tree, gated };
  };
  const counts = (data: string, prefix: string) => {
    const db = new Database(warrenDbPath(data), { readonly: true });
    const auditDb = new Database(auditDbPath(data), { readonly: true });
    try {
      const sent = db.prepare("SELECT COUNT(*) FROM outbox WHERE text LIKE ? || '%'").pluck().get(prefix) as number;
      const key = loadAuditKey(data, { create: false });
      const texts = db.prepare("SELECT text FROM outbox WHERE text LIKE ? || '%'").pluck().all(prefix) as string[];
      const digest = auditDb.prepare("SELECT COUNT(*) FROM audit WHERE tool = 'send_message' AND args_digest = ?").pluck();
      const audited = texts.filter((text) => digest.get(argsDigest(key, { chat: 'local:acme', text })) === 1).length;
      return { sent, audited };
    } finally {
      db.close();
      auditDb.close();
    }
  };
  const burst = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => callFrame(i + 1, 'send_message', { chat: 'local:acme', text: `${prefix} ${i}` })).join('');

  it('stop() writes every pending row before it returns, even rows the writer could not commit yet', async () => {
    const { tree, gated } = await start();
    try {
      // The writer is held up (another connection has the write lock) with rows waiting: calls in flight, and rows
      // recorded directly.
      const blocker = new Database(auditDbPath(tree.data));
      blocker.exec('BEGIN IMMEDIATE');
      const c = await initialised(gated.socketPath('acme'));
      c.socket.write(Array.from({ length: 20 }, (_, i) => callFrame(i + 1, 'whoami', {})).join(''));
      const entry = (i: number) => ({ tenant: 'acme', run: null, tool: 'whoami', decision: 'allow' as const, rule: null, durationUs: 1, outcome: 'ok' as const, args: { pending: i } });
      const recorded = Promise.allSettled(Array.from({ length: 5 }, (_, i) => gated.audit.record(entry(i))));
      const stopped = gated.stop();
      await new Promise((r) => setTimeout(r, 300));
      blocker.exec('COMMIT');
      blocker.close();
      await stopped;
      expect((await recorded).map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(Array(5).fill('fulfilled'));
      const db = new Database(auditDbPath(tree.data), { readonly: true });
      const key = loadAuditKey(tree.data, { create: false });
      const count = db.prepare('SELECT COUNT(*) FROM audit WHERE args_digest = ?').pluck();
      expect(Array.from({ length: 5 }, (_, i) => count.get(argsDigest(key, { pending: i })))).toEqual(Array(5).fill(1));
      db.close();
      c.close();
    } finally {
      tree.cleanup();
    }
  });

  it('a client that vanishes mid-call leaves a row for every call that took effect', async () => {
    const { tree, gated } = await start();
    try {
      const c = await initialised(gated.socketPath('acme'));
      c.socket.write(burst('vanished', 200));
      await c.response(1);
      c.socket.destroy();
      // gated goes on serving others; then its rows are all there.
      const other = await connectClient(gated.socketPath('acme'));
      await other.callTool({ name: 'whoami', arguments: {} });
      await other.close();
      await gated.audit.flush();
      const { sent, audited } = counts(tree.data, 'vanished');
      expect(sent).toBeGreaterThan(0);
      expect(audited).toBe(sent);
      await gated.stop();
      expect(counts(tree.data, 'vanished').audited).toBe(sent);
    } finally {
      tree.cleanup();
    }
  });
});
