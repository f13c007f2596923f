// Two runs interrupted together — one delegating, one working on that delegation — are re-queued as one step: the
// delegation counts as not started and is withdrawn whatever order they are found in.
import { describe, expect, it } from 'vitest';
import { useRunDb } from '../helpers/run-db.js';
import { RunStore } from '../../gateway/run-store.js';

describe('requeue withdraws delegations regardless of reconcile order', () => {
  const f = useRunDb();

  /** acme's run A delegates to acme/support; support's run B claims it; both are in flight when the gateway dies. */
  function crashWithBothInFlight(): { a: string; b: string; delegation: string } {
    f.store.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'local:ann', sender: 'ann', text: 'hi' });
    const a = f.runs.tryStart('acme', 'main', 4)!;
    const { id } = f.store.queueDelegation({
      kind: 'delegate', from: 'acme', fromTopic: 'main', fromChat: 'local:ann', fromRun: a.id, to: 'acme/support', depth: 1, prompt: 'do it',
    });
    const topic = (f.db.prepare(`SELECT topic FROM messages WHERE ref = ?`).get(id) as { topic: string }).topic;
    const b = f.runs.tryStart('acme/support', topic, 4)!;
    expect(b).not.toBeNull();
    return { a: a.id, b: b.id, delegation: id };
  }
  const pendingDelegationMessages = (id: string) =>
    (f.db.prepare(`SELECT COUNT(*) AS n FROM messages WHERE ref = ? AND run IS NULL`).get(id) as { n: number }).n;

  it('reconcile visits the older (delegating) run first', () => {
    const { a, b } = crashWithBothInFlight();
    expect(new RunStore(f.db, 'test').inFlight().map((r) => r.id)).toEqual([a, b]);
  });

  it.each([
    ['delegatee listed first', (a: string, b: string) => [b, a]],
    ['delegator listed first (the order reconcile finds them in)', (a: string, b: string) => [a, b]],
  ])('%s: the delegation is withdrawn, so the re-run does not hand it on twice', (_order, order) => {
    const { a, b, delegation } = crashWithBothInFlight();
    f.runs.clearInstanceLeases();
    f.runs.requeue(order(a, b));
    expect(pendingDelegationMessages(delegation)).toBe(0);
  });
});
