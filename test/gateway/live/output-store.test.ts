// run_output on a real SQLite file: gap-free seqs, bounds that prune the oldest with a recorded range, retention,
// the end of a run, and secrets scrubbed before a chunk exists.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeRedactor } from '../../../core/secrets/redact.js';
import { RunOutputStore } from '../../../gateway/live/output-store.js';
import { useLive } from '../../helpers/live.js';

const SECRET = 'sk-live-0123456789abcdef';

describe('run output store', () => {
  const f = useLive({ bounds: { maxChunks: 5, maxBytes: 10_000 } });

  it('numbers a run\'s chunks 1, 2, 3 … with no holes, each run on its own', () => {
    f.store.begin('run_a', 'acme');
    f.store.begin('run_b', 'acme');
    const seqs = [1, 2, 3].flatMap(() => [f.store.append('run_a', 'log', { text: 'a' })!.seq, f.store.append('run_b', 'log', { text: 'b' })!.seq]);
    expect(seqs).toEqual([1, 1, 2, 2, 3, 3]);
    expect(f.store.read('run_a', 0, 100)!.chunks.map((c) => [c.seq, c.text])).toEqual([[1, 'a'], [2, 'a'], [3, 'a']]);
  });

  it('keeps the sequence across a restart of the writer', () => {
    f.store.begin('run_a', 'acme');
    f.store.append('run_a', 'log', { text: 'one' });
    const again = new RunOutputStore(f.db, f.store.bounds);
    expect(again.append('run_a', 'tool', { data: { tool: 'whoami' } })!.seq).toBe(2);
  });

  it('prunes the oldest chunks past the chunk bound and says which range is gone', () => {
    f.store.begin('run_a', 'acme');
    for (let i = 1; i <= 8; i++) f.store.append('run_a', 'log', { text: `line ${i}` });
    const page = f.store.read('run_a', 0, 100)!;
    expect(page.gap).toEqual({ from: 1, to: 3 });
    expect(page.chunks.map((c) => c.seq)).toEqual([4, 5, 6, 7, 8]);
    // A reader past the pruned range sees no gap; one inside it sees the rest of the range.
    expect(f.store.read('run_a', 5, 100)!.gap).toBeNull();
    expect(f.store.read('run_a', 2, 100)!.gap).toEqual({ from: 3, to: 3 });
  });

  it('ends a run for good: nothing is appended afterwards', () => {
    f.store.begin('run_a', 'acme');
    f.store.append('run_a', 'log', { text: 'x' });
    expect(f.store.end('run_a', 'done')).toBe(true);
    expect(f.store.append('run_a', 'log', { text: 'late' })).toBeNull();
    expect(f.store.end('run_a', 'failed')).toBe(false);
    expect(f.store.read('run_a', 0, 100)).toMatchObject({ ended: true, endStatus: 'done', lastSeq: 1 });
  });

  it('prunes the output of runs that ended before the retention cut-off, recorded as a gap', () => {
    f.store.begin('run_old', 'acme');
    f.store.append('run_old', 'log', { text: 'old' });
    f.store.end('run_old', 'done');
    f.store.begin('run_live', 'acme');
    f.store.append('run_live', 'log', { text: 'live' });
    expect(f.store.pruneEndedBefore(new Date(Date.now() + 1000))).toBe(1);
    expect(f.store.read('run_old', 0, 100)).toMatchObject({ gap: { from: 1, to: 1 }, chunks: [], ended: true });
    expect(f.store.read('run_live', 0, 100)!.chunks).toHaveLength(1);
    expect(f.store.pruneEndedBefore(new Date(Date.now() + 1000))).toBe(0);
  });
});

describe('run output store: the byte bound', () => {
  const f = useLive({ bounds: { maxChunks: 1000, maxBytes: 1024, maxChunkBytes: 300 } });

  it('cuts a chunk to its size and prunes the oldest past the byte bound', () => {
    f.store.begin('run_a', 'acme');
    const first = f.store.append('run_a', 'log', { text: 'x'.repeat(1000) })!;
    expect(Buffer.byteLength(first.text!)).toBeLessThanOrEqual(300);
    for (let i = 0; i < 9; i++) f.store.append('run_a', 'log', { text: 'y'.repeat(250) });
    const state = f.store.state('run_a')!;
    expect(state.bytes).toBeLessThanOrEqual(1024);
    const page = f.store.read('run_a', 0, 100)!;
    expect(page.gap).toEqual({ from: 1, to: state.prunedTo });
    expect(page.chunks[0]!.seq).toBe(state.prunedTo + 1);
    expect(page.chunks.at(-1)!.seq).toBe(10);
  });
});

describe('capture', () => {
  const f = useLive({ redactorFor: (tenant) => (tenant === 'acme' ? makeRedactor([['API_KEY', SECRET]]) : undefined) });

  it('scrubs secrets from log lines, events, tool calls and status before a chunk exists', () => {
    f.output.started({ id: 'run_a', tenant: 'acme', topic: 'main', attempt: 1 });
    f.output.line('run_a', `curl -H "x-key: ${SECRET}"`);
    f.output.line('run_a', JSON.stringify({ level: 'info', event: { type: 'text_delta', text: `the key is ${SECRET}` } }));
    f.output.toolCall({ tenant: 'acme', run: 'run_a', tool: 'whoami', decision: 'deny', outcome: 'denied', rule: `deny x = "${SECRET}"`, durationUs: 1500 });
    f.output.status('run_a', { note: SECRET });
    f.output.ended('run_a', 'done');
    const rows = f.db.prepare('SELECT kind, text, data FROM run_output WHERE run = ? ORDER BY seq').all('run_a') as { kind: string; text: string | null; data: string | null }[];
    expect(rows.map((r) => r.kind)).toEqual(['status', 'log', 'event', 'tool', 'status', 'status']);
    expect(JSON.stringify(rows)).not.toContain(SECRET);
    expect(JSON.stringify(rows)).toContain('[secret:API_KEY]');
    expect(JSON.parse(rows[3]!.data!)).toEqual({ tool: 'whoami', decision: 'deny', outcome: 'denied', rule: 'deny x = "[secret:API_KEY]"', durationMs: 1.5 });
    // The database file itself never held the value.
    f.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(readFileSync(`${f.dir}/warren.db`).includes(SECRET)).toBe(false);
  });

  it('ignores calls on tenant sockets and output of runs it never opened', () => {
    f.output.toolCall({ tenant: 'acme', run: null, tool: 'whoami', decision: 'allow', outcome: 'ok', rule: null, durationUs: 1 });
    f.output.line('run_unknown', 'hello');
    expect(f.db.prepare('SELECT COUNT(*) AS n FROM run_output').get()).toEqual({ n: 0 });
  });
});

