// The hub over a real SQLite store: subscribers that join mid-stream, reconnect again and again, or fall behind each
// get every chunk once and in order (or an explicit gap for pruned ranges), and the end; a chunk written between
// registering and reading the backfill is neither lost nor duplicated.
import { describe, expect, it } from 'vitest';
import { LiveHub } from '../../../gateway/live/hub.js';
import { drain, sequence, subscribed, useLive, type LiveFixture } from '../../helpers/live.js';

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function begin(f: LiveFixture, run = 'run_a'): void {
  f.store.begin(run, 'acme');
}

function write(f: LiveFixture, n: number, run = 'run_a'): void {
  for (let i = 0; i < n; i++) {
    const chunk = f.store.append(run, 'log', { text: `line` })!;
    f.hub.publish(run, chunk);
  }
}

function end(f: LiveFixture, run = 'run_a'): void {
  f.output.ended(run, 'done'); // a status chunk, then the end
}

describe('live hub', () => {
  const f = useLive({ hub: { maxQueued: 8, pageSize: 5 } });

  it('gives a subscriber that joins mid-stream the backfill, then live chunks, then the end', async () => {
    begin(f);
    write(f, 12);
    const sub = subscribed(f.hub, 'run_a', 0);
    const first = sub.take(); // a page of the backfill
    write(f, 3);
    const rest = drain(sub);
    write(f, 4);
    end(f);
    expect(sequence([...first, ...(await rest)])).toEqual([...range(1, 20), 'end']);
    expect(f.hub.subscriberCount('run_a')).toBe(0);
  });

  it('gives a subscriber that reconnects again and again every chunk exactly once', async () => {
    begin(f);
    const seen: (number | string)[] = [];
    let after = 0;
    for (let round = 0; round < 10; round++) {
      write(f, 3);
      const sub = subscribed(f.hub, 'run_a', after);
      write(f, 2);
      const got = await drain(sub, 1 + (round % 4)); // leaves after a few items, like a dropped connection
      sub.close();
      for (const item of got) if (item.type === 'chunk') after = item.chunk.seq;
      seen.push(...sequence(got));
    }
    end(f);
    const last = await drain(subscribed(f.hub, 'run_a', after));
    seen.push(...sequence(last));
    expect(seen).toEqual([...range(1, 51), 'end']);
  });

  it('lets a slow subscriber fall behind without blocking others: it reads on from the store, nothing lost', async () => {
    begin(f);
    const slow = subscribed(f.hub, 'run_a', 0);
    const fast = subscribed(f.hub, 'run_a', 0);
    const fastItems = drain(fast);
    for (let i = 0; i < 100; i++) {
      write(f, 1); // the fast one takes each as it comes; the slow one takes nothing until the end
      await new Promise((r) => setImmediate(r));
    }
    end(f);
    expect(slow.overflows).toBeGreaterThan(0);
    expect(fast.overflows).toBe(0);
    expect(sequence(await drain(slow))).toEqual([...range(1, 101), 'end']);
    expect(sequence(await fastItems)).toEqual([...range(1, 101), 'end']);
  });

});

describe('live hub: pruned ranges', () => {
  const f = useLive({ hub: { maxQueued: 8, pageSize: 5 }, bounds: { maxChunks: 20 } });

  it('tells a subscriber that asks for a pruned range about the gap, then goes on', async () => {
    begin(f);
    write(f, 30);
    const sub = subscribed(f.hub, 'run_a', 2);
    end(f);
    const items = await drain(sub);
    const state = f.store.state('run_a')!;
    expect(state.prunedTo).toBeGreaterThan(2);
    expect(sequence(items)).toEqual([`gap 3-${state.prunedTo}`, ...range(state.prunedTo + 1, 31), 'end']);
  });

  it('gives a slow subscriber whose backlog was pruned meanwhile a gap, never a silent skip', async () => {
    begin(f);
    write(f, 5);
    const slow = subscribed(f.hub, 'run_a', 0);
    expect(sequence(slow.take())).toEqual([1, 2, 3, 4, 5]);
    write(f, 40); // its queue overflows, and the store prunes what it has not read yet
    end(f);
    const state = f.store.state('run_a')!;
    expect(sequence(await drain(slow))).toEqual([`gap 6-${state.prunedTo}`, ...range(state.prunedTo + 1, 46), 'end']);
  });

  it('refuses a subscriber past the per-run limit, and takes one again once another leaves', () => {
    const hub = new LiveHub(f.store, { maxSubscribersPerRun: 2 });
    begin(f);
    const first = subscribed(hub, 'run_a', 0);
    subscribed(hub, 'run_a', 0);
    expect(hub.subscribe('run_a', 0)).toBe('full');
    first.close();
    expect(hub.subscriberCount('run_a')).toBe(1);
    subscribed(hub, 'run_a', 0);
    hub.closeAll();
  });

  it('says rows missing from a damaged table as a gap instead of skipping them', async () => {
    begin(f);
    write(f, 6);
    f.db.prepare('DELETE FROM run_output WHERE seq BETWEEN 2 AND 6').run(); // not recorded as pruned
    end(f);
    expect(sequence(await drain(subscribed(f.hub, 'run_a', 1)))).toEqual(['gap 2-6', 7, 'end']);
  });

  it('answers null for a run without output, and ends at once for a run that is over', async () => {
    expect(f.hub.subscribe('run_none', 0)).toBeNull();
    begin(f);
    write(f, 2);
    end(f);
    expect(sequence(await drain(subscribed(f.hub, 'run_a', 3)))).toEqual(['end']);
  });
});

describe('live hub: a chunk written between registering and reading the backfill', () => {
  let written = false;
  const f: LiveFixture = useLive(() => ({
    hub: {
      afterRegister: (run) => {
        if (written) return;
        written = true;
        write(f, 1, run); // in the store AND in the new subscriber's queue
      },
    },
  }));

  it('is delivered exactly once', async () => {
    begin(f);
    write(f, 3);
    const sub = subscribed(f.hub, 'run_a', 0);
    expect(written).toBe(true);
    const backfill = sub.take(); // holds chunk 4, which is also waiting in the queue
    write(f, 2);
    end(f);
    expect(sequence([...backfill, ...(await drain(sub))])).toEqual([...range(1, 7), 'end']);
  });
});
