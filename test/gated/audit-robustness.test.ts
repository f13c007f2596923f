// One call can never cost other calls their audit rows: arguments nested deep enough to overflow a recursive
// serialiser are audited with a bounded one, and a row that cannot be written fails alone, not with its batch.
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../gated/audit.js';
import { useGated } from '../helpers/gated.js';
import { callFrame, initialised } from '../helpers/raw-socket.js';

function deep(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

describe('audit rows under hostile arguments', () => {
  const f = useGated();

  it('an allowed send_message keeps its audit row when a poisoned call shares its batch', async () => {
    const c = await initialised(f.gated.socketPath('acme'));
    const auditBefore = (f.gated.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
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
    // ...but the audit log has no row for it (nor for the poisoned call).
    f.gated.audit.flush();
    const auditAfter = (f.gated.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
    expect(auditAfter - auditBefore).toBe(2);
    // And the caller of the legitimate call was told it failed ("Maximum call stack size exceeded").
    expect(r1.error).toBeUndefined();
    c.close();
  });

  it('a row that cannot be written fails alone: the rows recorded with it in the same batch are written', async () => {
    const entry = (tenant: string | null, tool: string) =>
      ({ tenant, run: null, tool, decision: 'allow', rule: null, durationUs: 1, outcome: 'ok', args: {} }) as AuditEntry;
    // Recorded in the same turn of the event loop, so all three go to one group commit; the middle one breaks a
    // NOT NULL constraint.
    const results = await Promise.allSettled([
      f.gated.audit.record(entry('globex', 'batch_before')),
      f.gated.audit.record(entry(null, 'batch_broken')),
      f.gated.audit.record(entry('globex', 'batch_after')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const tools = f.gated.db.prepare("SELECT tool FROM audit WHERE tool LIKE 'batch_%' ORDER BY id").all();
    expect(tools).toEqual([{ tool: 'batch_before' }, { tool: 'batch_after' }]);
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
    f.gated.audit.flush();
    const sent = f.gated.db.prepare("SELECT COUNT(*) AS n FROM outbox WHERE tenant = 'globex' AND text LIKE 'victim message %'").get() as { n: number };
    const rows = f.gated.db.prepare("SELECT COUNT(*) AS n FROM audit WHERE tenant = 'globex' AND tool = 'send_message' AND decision = 'allow'").get() as { n: number };
    expect({ sent: sent.n, audited: rows.n }).toEqual({ sent: ROUNDS, audited: ROUNDS });
  });
});
