// One call can never cost other calls their audit rows: arguments nested deep enough to overflow a recursive
// serialiser are audited with a bounded one, and a row that cannot be written fails alone, not with its batch.
import { describe, expect, it } from 'vitest';
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
    await f.gated.audit.flush();
    const auditAfter = (f.gated.db.prepare('SELECT COUNT(*) AS n FROM audit').get() as { n: number }).n;
    expect(auditAfter - auditBefore).toBe(2);
    // And the caller of the legitimate call was told it failed ("Maximum call stack size exceeded").
    expect(r1.error).toBeUndefined();
    c.close();
  });

  it("another tenant's call keeps its audit row when it shares the poisoned batch", async () => {
    const attacker = await initialised(f.gated.socketPath('acme'));
    const victim = await initialised(f.gated.socketPath('globex'));
    const poison = callFrame(0, 'whoami', { junk: 0 }).replace('0}', `${deep(200_000)}}`);
    let unaudited = 0;
    for (let i = 1; i <= 20 && unaudited === 0; i++) {
      const id = 100 + i;
      const text = `victim message ${i}`;
      // Everything but the newline first, so the attacker's frame completes exactly when the victim's call arrives.
      attacker.socket.write(poison.slice(0, -1).replace('"id":0', `"id":${id}`));
      await new Promise((r) => setTimeout(r, 100));
      attacker.socket.write('\n');
      victim.socket.write(callFrame(id, 'send_message', { chat: 'local:globex', text }));
      await victim.response(id);
      await attacker.response(id);
      await f.gated.audit.flush();
      const sent = f.gated.db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE tenant = ? AND text = ?').get('globex', text) as { n: number };
      const rows = f.gated.db.prepare("SELECT COUNT(*) AS n FROM audit WHERE tenant = 'globex' AND tool = 'send_message' AND id > ?")
        .get(0) as { n: number };
      if (sent.n === 1 && rows.n < i) unaudited = i;
    }
    attacker.close();
    victim.close();
    expect(unaudited).toBe(0);
  });
});
