// A client paging the outbox (GET /v1/messages) with the `next_after` it was given sees every committed row, even
// rows of a long turn that become visible after rows with higher ids (it may see a row twice: ids are stable).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';
import { OutboxView } from '../../gateway/outbox-view.js';
import { RunStore } from '../../gateway/run-store.js';
import { planEffects } from '../../gateway/turn-plan.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-'));
const db = openWarrenDb(dir, GATEWAY_MIGRATIONS);
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('paging the outbox with ?after=', () => {
  it('a client that pages by the last id it saw eventually sees every committed row', () => {
    const store = new GatedStore(db);
    const runs = new RunStore(db, 'r2');
    const view = new OutboxView(db);
    store.addMessage({ tenant: 'acme', topic: 'slow', kind: 'chat', chat: 'tg:ann', sender: 'ann', text: 'long job' });
    store.addMessage({ tenant: 'acme', topic: 'fast', kind: 'chat', chat: 'tg:bob', sender: 'bob', text: 'quick one' });
    const slow = runs.tryStart('acme', 'slow', 4)!;
    const fast = runs.tryStart('acme', 'fast', 4)!;
    // The slow run tells ann something mid-turn (gated's send_message/reply write outbox rows bound to the run).
    store.addOutbox({ tenant: 'acme', topic: 'slow', kind: 'message', chat: 'tg:ann', text: 'working on it', run: slow.id });
    const done = { status: 'done' as const, text: 'ok', session: null };
    runs.finish(fast, done, planEffects('acme', fast.messages, new Map(), done));

    const seen = new Set<number>();
    let after = 0;
    const poll = () => {
      const page = view.page('acme', { after });
      for (const r of page.messages) seen.add(r.id);
      after = page.next_after;
    };
    poll(); // sees the fast run's reply
    runs.finish(slow, done, planEffects('acme', slow.messages, new Map(), done));
    poll(); // the slow run's rows are committed now
    const all = (db.prepare(`SELECT id FROM outbox WHERE tenant = 'acme' ORDER BY id`).all() as { id: number }[]).map((r) => r.id);
    expect([...seen].sort((a, b) => a - b)).toEqual(all);
  });
});
