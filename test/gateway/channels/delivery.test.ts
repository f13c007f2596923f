// Delivery on a real SQLite file through an in-memory platform: in order per chat, retries with backoff, failures
// recorded and shown, a channel down and back, and what a crash in the middle of a delivery leaves.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../../core/db.js';
import { silentLogger } from '../../../core/log.js';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { Delivery } from '../../../gateway/channels/delivery.js';
import type { RetryPolicy } from '../../../gateway/channels/delivery-plan.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { OutboxView } from '../../../gateway/outbox-view.js';
import { RunStore } from '../../../gateway/run-store.js';
import { eventually } from '../../helpers/wait.js';
import { MemoryAdapter } from './memory-adapter.js';

const FAST: RetryPolicy = { baseDelayMs: 20, maxDelayMs: 200, maxAttempts: 3, maxAgeMs: 60_000 };

let dir: string;
let db: Db;
let store: GatedStore;
let tg: MemoryAdapter;
const deliveries: Delivery[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warren-delivery-'));
  db = openWarrenDb(dir, GATEWAY_MIGRATIONS);
  store = new GatedStore(db);
  tg = new MemoryAdapter({ prefix: 'tg', world: null });
  await tg.start({ receive: async () => ({ kind: 'dropped', reason: 'test' }) });
});
afterEach(async () => {
  for (const d of deliveries.splice(0)) await d.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function startDelivery(policy = FAST, adapter: MemoryAdapter = tg): Delivery {
  const d = new Delivery({ db, store, adapterFor: (chat) => (chat.startsWith('tg:') ? adapter : null), log: silentLogger(), policy, pollMs: 10 });
  deliveries.push(d);
  d.start();
  return d;
}

const row = (chat: string, text: string, run: string | null = null) =>
  store.addOutbox({ tenant: 'acme', topic: 'main', kind: 'message', chat, text, run });

const state = (id: number) => new OutboxView(db).list('acme', { limit: 1000 }).find((r) => r.id === id)!;

describe('delivery', () => {
  it('delivers in order per chat: the next row of a chat only after the one before it', async () => {
    let release!: () => void;
    tg.hold = new Promise((r) => (release = r));
    const a1 = row('tg:-1', 'a1');
    row('tg:-1', 'a2');
    row('tg:-2', 'b1');
    startDelivery();
    // While a1 is in flight, chat -2 goes ahead but a2 waits.
    await eventually(() => tg.attempts.length === 2, 'two attempts in flight', 5000, 10);
    expect(tg.attempts.map((a) => a.item.text).sort()).toEqual(['a1', 'b1']);
    expect(state(a1).delivery_state).toBe('sending'); // recorded before the platform answered
    release();
    tg.hold = null;
    await eventually(() => tg.delivered.length === 3, 'all delivered', 5000, 10);
    expect(tg.delivered.filter((d) => d.chat === 'tg:-1').map((d) => d.text)).toEqual(['a1', 'a2']);
    expect(state(a1)).toMatchObject({ delivery_state: 'delivered', delivered_at: expect.any(String), platform_message_id: expect.any(String), delivery_attempts: 1 });
  });

  it('retries with backoff, honouring the wait the platform asks for, keeping the chat in order', async () => {
    tg.script.push({ ok: false, retryable: true, error: 'timeout' }, { ok: false, retryable: true, retryAfterMs: 150, error: 'Too Many Requests' });
    const first = row('tg:-1', 'first');
    row('tg:-1', 'second');
    startDelivery();
    await eventually(() => tg.delivered.length === 2, 'both delivered', 5000, 10);
    const tries = tg.attempts.filter((a) => a.item.id === first);
    expect(tries).toHaveLength(3);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(20);
    expect(tries[2]!.at - tries[1]!.at).toBeGreaterThanOrEqual(150);
    expect(tg.delivered.map((d) => d.text)).toEqual(['first', 'second']);
    expect(state(first)).toMatchObject({ delivery_state: 'delivered', delivery_attempts: 3, delivery_error: null });
  });

  it('marks a row that keeps failing as failed with its last error, shown with the row, and goes on with the chat', async () => {
    tg.script.push(
      { ok: false, retryable: true, error: 'timeout' },
      { ok: false, retryable: true, error: 'timeout' },
      { ok: false, retryable: true, error: 'bad gateway' },
      { ok: false, retryable: false, error: 'chat not found' },
    );
    const doomed = row('tg:-1', 'doomed');
    const refused = row('tg:-1', 'refused');
    const fine = row('tg:-1', 'fine');
    startDelivery();
    await eventually(() => tg.delivered.length === 1, 'the last row delivered', 5000, 10);
    expect(state(doomed)).toMatchObject({ delivery_state: 'failed', delivery_attempts: 3, delivery_error: 'bad gateway (gave up after 3 attempts)', delivered_at: null });
    expect(state(refused)).toMatchObject({ delivery_state: 'failed', delivery_attempts: 1, delivery_error: 'chat not found' });
    expect(state(fine).delivery_state).toBe('delivered');
  });

  it('a channel that is down: rows wait, spending no attempts, and go out when it is back', async () => {
    tg.down('polling: connection refused');
    const id = row('tg:-1', 'patience');
    startDelivery();
    await new Promise((r) => setTimeout(r, 200));
    expect(tg.attempts).toEqual([]);
    expect(state(id)).toMatchObject({ delivery_state: null, delivery_attempts: 0 });
    tg.up();
    await eventually(() => tg.delivered.length === 1, 'delivered once back', 5000, 10);
    expect(state(id).delivery_attempts).toBe(1);
  });

  it("never delivers a row of a turn still running, nor a chat without an adapter", async () => {
    const runs = new RunStore(db, 'test', store);
    store.addMessage({ tenant: 'acme', topic: 'main', kind: 'chat', chat: 'tg:-1', sender: 'tg:1', text: 'hi' });
    const run = runs.tryStart('acme', 'main', 4)!;
    const hidden = row('tg:-1', 'mid-turn', run.id);
    const web = row('web:help', 'no adapter here');
    startDelivery();
    await new Promise((r) => setTimeout(r, 150));
    expect(tg.attempts).toEqual([]);
    runs.finish(run, { status: 'done', text: 'done', session: null }, []);
    await eventually(() => tg.delivered.length === 1, 'delivered once the turn finished', 5000, 10);
    expect(tg.delivered[0]!.id).toBe(hidden);
    expect(state(web)).toMatchObject({ delivery_state: null, delivery_attempts: 0 });
  });

  it('a backlog for a platform without an adapter never holds up the other chats', async () => {
    db.transaction(() => {
      for (let i = 0; i < 6000; i++) row(`web:chat-${i % 3}`, `waiting ${i}`);
    })();
    const id = row('tg:-1', 'goes out');
    startDelivery();
    await eventually(() => tg.delivered.length === 1, 'the telegram row delivered', 5000, 10);
    expect(tg.delivered[0]!.id).toBe(id);
  });

  it('after a crash mid-delivery the row in flight is sent again (the documented window); delivered rows never are', async () => {
    row('tg:-1', 'delivered before the crash');
    const first = startDelivery();
    await eventually(() => tg.delivered.length === 1, 'first delivered', 5000, 10);
    // The gateway dies while the platform is taking the next row: the attempt is recorded, its answer is not.
    tg.hold = new Promise(() => undefined);
    const inFlight = row('tg:-1', 'in flight at the crash');
    await eventually(() => tg.attempts.length === 2, 'second attempt made', 5000, 10);
    deliveries.splice(deliveries.indexOf(first), 1);
    void first.stop(); // never settles: the attempt hangs, as a killed process's would
    expect(state(inFlight).delivery_state).toBe('sending');

    const platform = new MemoryAdapter({ prefix: 'tg', world: null });
    await platform.start({ receive: async () => ({ kind: 'dropped', reason: 'test' }) });
    startDelivery(FAST, platform);
    await eventually(() => platform.delivered.length === 1, 'redelivered after restart', 5000, 10);
    await new Promise((r) => setTimeout(r, 100));
    expect(platform.delivered.map((d) => d.text)).toEqual(['in flight at the crash']);
    expect(state(inFlight)).toMatchObject({ delivery_state: 'delivered', delivery_attempts: 2 });
  });
});
