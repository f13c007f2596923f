// Live output's vocabulary and its pure decisions: what a chunk is, how a runner line becomes one, what a reader who
// has seen up to `after` gets next (chunks, or first an explicit gap when the range it asks for was pruned), and how
// much of a run to prune to stay within its bounds. No I/O here; output-store.ts and hub.ts do that.

export type ChunkKind = 'log' | 'event' | 'tool' | 'status';

export interface Chunk {
  /** 1, 2, 3 … per run, without holes. */
  seq: number;
  time: string;
  kind: ChunkKind;
  /** A log line (kind log). */
  text?: string;
  /** Structured content (the other kinds). */
  data?: unknown;
}

/** A range of a run's chunks that was pruned before the reader got them: seq `from` to `to`, both included. */
export interface Gap {
  from: number;
  to: number;
}

export interface OutputBounds {
  /** Chunks kept per run; past it the oldest go. */
  maxChunks: number;
  /** Bytes (of text and data) kept per run; past it the oldest go. */
  maxBytes: number;
  /** A chunk's text or data is cut to this many bytes (a chunk alone never fills a run's budget). */
  maxChunkBytes: number;
  /** Output of runs that ended longer ago than this is pruned (ms). */
  retentionMs: number;
}

export const DEFAULT_BOUNDS: OutputBounds = {
  maxChunks: 10_000,
  maxBytes: 4 * 1024 * 1024,
  maxChunkBytes: 16 * 1024,
  retentionMs: 7 * 24 * 3600_000,
};

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, got "${raw}"`);
  return n;
}

/** The bounds from WARREN_OUTPUT_MAX_CHUNKS, WARREN_OUTPUT_MAX_BYTES and WARREN_OUTPUT_RETENTION_HOURS. PURE. */
export function outputBounds(env: NodeJS.ProcessEnv = process.env): OutputBounds {
  return {
    maxChunks: int(env, 'WARREN_OUTPUT_MAX_CHUNKS', DEFAULT_BOUNDS.maxChunks, 1),
    maxBytes: int(env, 'WARREN_OUTPUT_MAX_BYTES', DEFAULT_BOUNDS.maxBytes, 1024),
    maxChunkBytes: DEFAULT_BOUNDS.maxChunkBytes,
    retentionMs: int(env, 'WARREN_OUTPUT_RETENTION_HOURS', DEFAULT_BOUNDS.retentionMs / 3600_000, 1) * 3600_000,
  };
}

/**
 * A runner output line as a chunk's content. The runner writes JSON records; one that carries an `event` field is a
 * harness stream event (kind event, the record as data); anything else is a log line, kept as written. PURE.
 */
export function classifyLine(line: string): { kind: 'log'; text: string } | { kind: 'event'; data: unknown } {
  if (line.startsWith('{') && line.includes('"event"')) {
    try {
      const record = JSON.parse(line) as unknown;
      if (record !== null && typeof record === 'object' && !Array.isArray(record) && 'event' in record) {
        return { kind: 'event', data: record };
      }
    } catch {
      // not JSON after all: a log line
    }
  }
  return { kind: 'log', text: line };
}

/** `text` cut to at most `max` UTF-8 bytes (on a character boundary), marked with an ellipsis when cut. PURE. */
export function clip(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let cut = Buffer.from(text).subarray(0, max - 3).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1); // a character split by the cut
  return `${cut}…`;
}

/**
 * What a reader that has everything up to `after` must be told first: the pruned range it missed, if any. Chunks are
 * always pruned oldest first, so what is gone is 1..prunedTo. PURE.
 */
export function gapAfter(after: number, prunedTo: number): Gap | null {
  return after < prunedTo ? { from: after + 1, to: prunedTo } : null;
}

/**
 * How many of the oldest kept chunks go so that the run is within its bounds again (the newest chunk always stays).
 * `oldestBytes` are the sizes of the oldest kept chunks, oldest first; no more than these go at once. PURE.
 */
export function pruneCount(chunks: number, bytes: number, oldestBytes: readonly number[], bounds: Pick<OutputBounds, 'maxChunks' | 'maxBytes'>): number {
  let n = 0;
  while (n < oldestBytes.length && chunks - n > 1 && (chunks - n > bounds.maxChunks || bytes > bounds.maxBytes)) {
    bytes -= oldestBytes[n]!;
    n++;
  }
  return n;
}
