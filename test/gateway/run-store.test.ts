// Leases, claims, commits and recovery on a real SQLite file.
import { describe, expect, it } from 'vitest';
import { useRunDb } from '../helpers/run-db.js';
import { OutboxView } from '../../gateway/outbox-view.js';
import { RunStore } from '../../gateway/run-store.js';

describe('RunStore', () => {
  const f = useRunDb();

  const chat = (tenant: string, text: string, topic = 'main') =>
    f.store.addMessage({ tenant, topic, kind: 'chat', chat: 'local:ann', sender: 'ann', text });

  it('claims all pending messages of a topic and never runs one topic twice at a time', () => {
    chat('acme', 'one');
    chat('acme', 'two');
    const run = f.runs.tryStart('acme', 'main', 4)!;
    expect(run.messages.map((m) => m.text)).toEqual(['one', 'two']);
    chat('acme', 'three');
    expect(f.runs.tryStart('acme', 'main', 4)).toBeNull(); // the topic is leased
    f.runs.finish(run, { status: 'done', text: 'ok', session: 's1' }, [{ type: 'reply', chat: 'local:ann', text: 'ok' }]);
    expect(f.runs.tryStart('acme', 'main', 4)!.messages.map((m) => m.text)).toEqual(['three']);
    expect(f.store.topic('acme', 'main')?.session).toBe('s1');
  });

  it('enforces the global container cap with leases in the database', () => {
    chat('a', 'x');
    chat('b', 'x');
    chat('c', 'x');
    expect(f.runs.tryStart('a', 'main', 2)).not.toBeNull();
    expect(f.runs.tryStart('b', 'main', 2)).not.toBeNull();
    expect(f.runs.tryStart('c', 'main', 2)).toBeNull();
    // A second instance sharing the database sees the same cap.
    expect(new RunStore(f.db, 'other').tryStart('c', 'main', 2)).toBeNull();
  });

  it("keeps a running turn's outbox rows hidden until it finishes", () => {
    chat('acme', 'hi');
    const run = f.runs.tryStart('acme', 'main', 4)!;
    f.store.addOutbox({ tenant: 'acme', topic: 'main', kind: 'message', chat: 'tg:1', text: 'mid-turn', run: run.id });
    const view = new OutboxView(f.db);
    expect(view.list('acme')).toEqual([]);
    f.runs.finish(run, { status: 'done', text: 'final', session: null }, [{ type: 'reply', chat: 'local:ann', text: 'final' }]);
    expect(view.list('acme').map((r) => r.text)).toEqual(['mid-turn', 'final']);
  });

  it('re-queues an interrupted run once, dropping what it had not committed; a second interruption fails it', () => {
    chat('acme', 'hi');
    const first = f.runs.tryStart('acme', 'main', 4)!;
    f.store.addOutbox({ tenant: 'acme', topic: 'main', kind: 'reply', chat: 'local:ann', text: 'half', run: first.id });
    // The gateway dies here. On restart:
    const again = new RunStore(f.db, 'test');
    again.clearInstanceLeases();
    expect(again.inFlight().map((r) => r.id)).toEqual([first.id]);
    again.requeue([first.id]);
    const second = again.tryStart('acme', 'main', 4)!;
    expect(second.attempt).toBe(2);
    expect(second.messages.map((m) => m.text)).toEqual(['hi']);
    expect(new OutboxView(f.db).list('acme')).toEqual([]); // the half reply is gone, never shown
    expect(again.inFlight()[0]!.attempt).toBe(2);
  });

  it('withdraws the work an interrupted run handed on that nobody started, and keeps what was started', () => {
    chat('acme', 'split this');
    const run = f.runs.tryStart('acme', 'main', 4)!;
    const hand = (prompt: string) =>
      f.store.queueDelegation({ kind: 'delegate', from: 'acme', fromTopic: 'main', fromChat: 'local:ann', fromRun: run.id, to: 'acme/support', depth: 1, prompt });
    const started = hand('part one');
    hand('part two');
    const child = f.runs.tryStart('acme/support', `delegate-${started.id.slice(4, 12)}`, 4)!;
    expect(child.messages.map((m) => m.text)).toEqual(['part one']);
    f.runs.requeue([run.id]); // the gateway died during acme's turn
    const left = f.db.prepare(`SELECT prompt FROM delegations ORDER BY created_at`).all();
    expect(left).toEqual([{ prompt: 'part one' }]);
    expect(f.db.prepare(`SELECT text FROM messages WHERE tenant = 'acme/support'`).all()).toEqual([{ text: 'part one' }]);
  });

  it('follower streams rows in commit order without skipping a long turn', () => {
    const view = new OutboxView(f.db);
    const follow = view.follower('acme');
    chat('acme', 'slow', 'a');
    chat('acme', 'fast', 'b');
    const slow = f.runs.tryStart('acme', 'a', 4)!;
    const fast = f.runs.tryStart('acme', 'b', 4)!;
    f.store.addOutbox({ tenant: 'acme', topic: 'a', kind: 'message', chat: 'x', text: 'slow-mid', run: slow.id });
    f.runs.finish(fast, { status: 'done', text: 'fast-done', session: null }, [{ type: 'reply', chat: 'x', text: 'fast-done' }]);
    expect(follow().map((r) => r.text)).toEqual(['fast-done']);
    f.runs.finish(slow, { status: 'done', text: 'slow-done', session: null }, [{ type: 'reply', chat: 'x', text: 'slow-done' }]);
    expect(follow().map((r) => r.text)).toEqual(['slow-mid', 'slow-done']);
    expect(follow()).toEqual([]);
  });

  it("records where the cluster placed a running turn, and a late report never moves a finished or re-queued run", () => {
    const placementOf = (id: string) => f.db.prepare(`SELECT node, task FROM runs WHERE id = ?`).get(id);
    chat('acme', 'one', 'a');
    chat('acme', 'two', 'b');
    const placed = f.runs.tryStart('acme', 'a', 4)!;
    expect(placementOf(placed.id)).toEqual({ node: null, task: null }); // not placed yet (and never, on local Docker)
    expect(f.runs.setPlacement(placed.id, { node: 'n-worker1', task: 't-1' })).toBe(true);
    expect(placementOf(placed.id)).toEqual({ node: 'n-worker1', task: 't-1' });

    f.runs.finish(placed, { status: 'done', text: 'ok', session: null }, []);
    expect(f.runs.setPlacement(placed.id, { node: 'n-worker2', task: 't-2' })).toBe(false);
    expect(placementOf(placed.id)).toEqual({ node: 'n-worker1', task: 't-1' });

    const lost = f.runs.tryStart('acme', 'b', 4)!;
    f.runs.setPlacement(lost.id, { node: 'n-worker2', task: 't-3' });
    f.runs.requeue([lost.id], 'its node was lost; queued again');
    expect(f.runs.setPlacement(lost.id, { node: 'n-worker3', task: 't-4' })).toBe(false);
    expect(placementOf(lost.id)).toEqual({ node: 'n-worker2', task: 't-3' });
    expect(f.runs.setPlacement('run_nonexistent', { node: 'n-worker1', task: 't-5' })).toBe(false);
  });
});
