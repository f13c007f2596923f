// The one writer of run_output and run_output_state (DATA/warren.db). Every chunk of a run — log lines from the
// runner, tool calls reported by gated, status changes — is written here and gets the run's next seq in the same
// transaction that prunes the run back within its bounds, so seqs have no holes and what was pruned is always the
// prefix 1..pruned_to, recorded. Content arrives already scrubbed (capture.ts); this file only stores it.
import type { Db } from '../../core/db.js';
import { nowIso } from '../../core/warren-db.js';
import { clip, gapAfter, pruneCount, type Chunk, type ChunkKind, type Gap, type OutputBounds } from './chunks.js';

export interface RunOutputState {
  run: string;
  tenant: string;
  lastSeq: number;
  prunedTo: number;
  chunks: number;
  bytes: number;
  endedAt: string | null;
  endStatus: string | null;
}

export interface OutputPage {
  /** The pruned range between `after` and the first chunk returned, if any. */
  gap: Gap | null;
  chunks: Chunk[];
  /** The highest seq written so far. */
  lastSeq: number;
  /** The run has ended (no chunk will follow lastSeq). */
  ended: boolean;
  endStatus: string | null;
}

interface ChunkRow {
  seq: number;
  time: string;
  kind: ChunkKind;
  text: string | null;
  data: string | null;
}

interface StateRow {
  run: string;
  tenant: string;
  last_seq: number;
  pruned_to: number;
  chunks: number;
  bytes: number;
  ended_at: string | null;
  end_status: string | null;
}

const fromState = (r: StateRow): RunOutputState => ({
  run: r.run,
  tenant: r.tenant,
  lastSeq: r.last_seq,
  prunedTo: r.pruned_to,
  chunks: r.chunks,
  bytes: r.bytes,
  endedAt: r.ended_at,
  endStatus: r.end_status,
});

function toChunk(r: ChunkRow): Chunk {
  const c: Chunk = { seq: r.seq, time: r.time, kind: r.kind };
  if (r.text !== null) c.text = r.text;
  if (r.data !== null) c.data = JSON.parse(r.data) as unknown;
  return c;
}

export class RunOutputStore {
  private readonly s;
  /** Runs being written, as in the table (this is the only writer, so the copy stays true). */
  private readonly live = new Map<string, RunOutputState>();

  constructor(
    readonly db: Db,
    readonly bounds: OutputBounds,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      state: p(`SELECT * FROM run_output_state WHERE run = ?`),
      insertState: p(`INSERT OR IGNORE INTO run_output_state (run, tenant, last_seq, pruned_to, chunks, bytes, started_at)
                      VALUES (?, ?, 0, 0, 0, 0, ?)`),
      saveState: p(`UPDATE run_output_state SET last_seq = @lastSeq, pruned_to = @prunedTo, chunks = @chunks, bytes = @bytes,
                    ended_at = @endedAt, end_status = @endStatus WHERE run = @run`),
      insertChunk: p(`INSERT INTO run_output (run, seq, time, kind, text, data, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)`),
      oldest: p(`SELECT seq, bytes FROM run_output WHERE run = ? ORDER BY seq LIMIT ?`),
      deleteUpTo: p(`DELETE FROM run_output WHERE run = ? AND seq <= ?`),
      page: p(`SELECT seq, time, kind, text, data FROM run_output WHERE run = ? AND seq > ? ORDER BY seq LIMIT ?`),
      expired: p(`SELECT * FROM run_output_state WHERE ended_at IS NOT NULL AND ended_at < ? AND chunks > 0`),
    };
  }

  /** Opens a run's output (idempotent). */
  begin(run: string, tenant: string): void {
    this.s.insertState.run(run, tenant, nowIso());
  }

  state(run: string): RunOutputState | null {
    const cached = this.live.get(run);
    if (cached) return { ...cached };
    const row = this.s.state.get(run) as StateRow | undefined;
    return row ? fromState(row) : null;
  }

  /**
   * Writes the run's next chunk and prunes the oldest past the bounds, in one transaction. Null when the run has no
   * output opened or has already ended (its stream is closed for good).
   */
  append(run: string, kind: ChunkKind, content: { text: string } | { data: unknown }, time = nowIso()): Chunk | null {
    const state = this.writable(run);
    if (!state) return null;
    const max = this.bounds.maxChunkBytes;
    const text = 'text' in content ? clip(content.text, max) : null;
    let data: string | null = null;
    if ('data' in content) {
      data = JSON.stringify(content.data ?? null);
      if (Buffer.byteLength(data) > max) data = JSON.stringify({ truncated: true, preview: clip(data, max - 64) });
    }
    const bytes = Buffer.byteLength(text ?? '') + Buffer.byteLength(data ?? '');
    const next = { ...state, lastSeq: state.lastSeq + 1, chunks: state.chunks + 1, bytes: state.bytes + bytes };
    this.db.transaction(() => {
      this.s.insertChunk.run(run, next.lastSeq, time, kind, text, data, bytes);
      this.prune(next);
      this.s.saveState.run(next);
    })();
    this.live.set(run, next);
    const chunk: Chunk = { seq: next.lastSeq, time, kind };
    if (text !== null) chunk.text = text;
    if (data !== null) chunk.data = JSON.parse(data) as unknown;
    return chunk;
  }

  /** Ends the run's output: nothing is appended after this. Returns false when it had ended already or never began. */
  end(run: string, status: string): boolean {
    const state = this.writable(run);
    if (!state) return false;
    const ended = { ...state, endedAt: nowIso(), endStatus: status };
    this.s.saveState.run(ended);
    this.live.delete(run);
    return true;
  }

  /** Up to `limit` chunks after `after`, preceded by the gap when part of what follows `after` was pruned. */
  read(run: string, after: number, limit: number): OutputPage | null {
    const state = this.state(run);
    if (!state) return null;
    const gap = gapAfter(after, state.prunedTo);
    const from = gap ? gap.to : after;
    const chunks = (this.s.page.all(run, from, limit) as ChunkRow[]).map(toChunk);
    return { gap, chunks, lastSeq: state.lastSeq, ended: state.endedAt !== null, endStatus: state.endStatus };
  }

  /** Drops the chunks of runs that ended before `cutoff` (recorded as pruned). Returns how many runs were pruned. */
  pruneEndedBefore(cutoff: Date): number {
    const rows = this.s.expired.all(cutoff.toISOString()) as StateRow[];
    this.db.transaction(() => {
      for (const row of rows) {
        const state = fromState(row);
        this.s.deleteUpTo.run(state.run, state.lastSeq);
        this.s.saveState.run({ ...state, prunedTo: state.lastSeq, chunks: 0, bytes: 0 });
      }
    })();
    return rows.length;
  }

  private writable(run: string): RunOutputState | null {
    const cached = this.live.get(run);
    if (cached) return cached;
    const row = this.s.state.get(run) as StateRow | undefined;
    if (!row || row.ended_at !== null) return null;
    const state = fromState(row);
    this.live.set(run, state);
    return state;
  }

  /** Within the transaction of an append: deletes the oldest chunks past the bounds and records them in `state`. */
  private prune(state: RunOutputState): void {
    const { maxChunks, maxBytes } = this.bounds;
    if (state.chunks <= maxChunks && state.bytes <= maxBytes) return;
    // Steady state needs one; a run that just crossed its byte bound may need a few.
    const look = Math.min(state.chunks, Math.max(state.chunks - maxChunks, 0) + 64);
    const oldest = this.s.oldest.all(state.run, look) as { seq: number; bytes: number }[];
    const n = pruneCount(state.chunks, state.bytes, oldest.map((r) => r.bytes), this.bounds);
    if (n === 0) return;
    const cut = oldest[n - 1]!;
    this.s.deleteUpTo.run(state.run, cut.seq);
    state.prunedTo = cut.seq;
    state.chunks -= n;
    state.bytes -= oldest.slice(0, n).reduce((sum, r) => sum + r.bytes, 0);
  }
}
