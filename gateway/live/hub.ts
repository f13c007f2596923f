// Subscribers to runs' live output. A subscriber is registered BEFORE anything is read for it, so a chunk written
// while its backfill is read is both in the store and in its queue: it is delivered once, the copy with a seq already
// delivered is dropped. Each subscriber has a bounded queue: one that does not keep up loses its queue (never another
// subscriber's time, never a chunk silently) and reads on from the store, where pruned ranges come out as gaps.
import type { Logger } from '../../core/log.js';
import type { Chunk, Gap } from './chunks.js';
import type { RunOutputStore } from './output-store.js';

export type LiveItem =
  | { type: 'chunk'; chunk: Chunk }
  | { type: 'gap'; gap: Gap }
  /** The run has ended; `lastSeq` is its last chunk. Always the final item. */
  | { type: 'end'; status: string | null; lastSeq: number };

export interface HubOptions {
  /** Live items held per subscriber that has not taken them; past it the subscriber reads on from the store. */
  maxQueued?: number;
  /** Chunks read from the store at once. */
  pageSize?: number;
  /** Subscribers per run; one more is refused. */
  maxSubscribersPerRun?: number;
  log?: Logger;
  /** Tests only: runs right after a subscriber is registered, before its backfill is read. */
  afterRegister?: (run: string) => void;
}

export class Subscription {
  /** The last seq delivered (or covered by a delivered gap). */
  private lastSeq: number;
  private queue: LiveItem[] = [];
  /** The store has chunks this subscriber has not had: read them there before the queue. */
  private behind = true;
  private closed = false;
  private waiter: (() => void) | null = null;
  /** Times the queue overflowed and was dropped in favour of the store. */
  overflows = 0;

  constructor(
    readonly run: string,
    after: number,
    private readonly hub: LiveHub,
    private readonly store: RunOutputStore,
    private readonly limits: { maxQueued: number; pageSize: number },
  ) {
    this.lastSeq = after;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * What is ready now, in order, each chunk once: the store's backlog a page at a time while behind, then the queue.
   * Empty when nothing is ready (then `wait`). After an `end` item the subscription is closed.
   */
  take(): LiveItem[] {
    if (this.closed) return [];
    const out: LiveItem[] = [];
    if (this.behind) {
      const page = this.store.read(this.run, this.lastSeq, this.limits.pageSize);
      if (!page) return this.finish(out, { type: 'end', status: null, lastSeq: this.lastSeq });
      if (page.gap) {
        out.push({ type: 'gap', gap: page.gap });
        this.lastSeq = page.gap.to;
      }
      // Rows missing without being recorded as pruned (a damaged table) are said as a gap too, never skipped.
      const missing = (to: number) => {
        out.push({ type: 'gap', gap: { from: this.lastSeq + 1, to } });
        this.lastSeq = to;
      };
      for (const chunk of page.chunks) {
        if (chunk.seq > this.lastSeq + 1) missing(chunk.seq - 1);
        out.push({ type: 'chunk', chunk });
        this.lastSeq = chunk.seq;
      }
      if (page.chunks.length === 0 && this.lastSeq < page.lastSeq) missing(page.lastSeq);
      if (this.lastSeq < page.lastSeq) return out; // more to read: next take
      this.behind = false;
      if (page.ended) return this.finish(out, { type: 'end', status: page.endStatus, lastSeq: page.lastSeq });
    }
    while (this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (item.type === 'chunk') {
        if (item.chunk.seq <= this.lastSeq) continue; // already had it (from the backfill)
        if (item.chunk.seq > this.lastSeq + 1) return this.fallBehind(out); // a hole: the store has it
        out.push(item);
        this.lastSeq = item.chunk.seq;
      } else if (item.type === 'end') {
        if (this.lastSeq < item.lastSeq) return this.fallBehind(out);
        return this.finish(out, item);
      }
    }
    return out;
  }

  /** Resolves when something may be ready (or the subscription closed). */
  wait(): Promise<void> {
    if (this.closed || this.queue.length > 0 || this.behind) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.hub.remove(this);
    this.wake();
  }

  /** From the hub: a live item of this run. */
  push(item: LiveItem): void {
    if (this.closed) return;
    // The end always gets in (one item over the bound): it is what closes the stream.
    if (item.type !== 'end' && this.queue.length >= this.limits.maxQueued) {
      this.queue = [];
      this.behind = true;
      this.overflows++;
    } else {
      this.queue.push(item);
    }
    this.wake();
  }

  private fallBehind(out: LiveItem[]): LiveItem[] {
    this.queue = [];
    this.behind = true;
    return out;
  }

  private finish(out: LiveItem[], end: LiveItem): LiveItem[] {
    out.push(end);
    this.close();
    return out;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

export class LiveHub {
  private readonly subscribers = new Map<string, Set<Subscription>>();
  private readonly limits: { maxQueued: number; pageSize: number };

  constructor(
    readonly store: RunOutputStore,
    private readonly options: HubOptions = {},
  ) {
    this.limits = { maxQueued: options.maxQueued ?? 1000, pageSize: options.pageSize ?? 500 };
  }

  /**
   * Everything of the run after seq `after`, then live chunks, then the end. Null when the run has no output;
   * 'full' when it has as many subscribers as it may.
   */
  subscribe(run: string, after: number): Subscription | null | 'full' {
    if (!this.store.state(run)) return null;
    let set = this.subscribers.get(run);
    if ((set?.size ?? 0) >= (this.options.maxSubscribersPerRun ?? 256)) return 'full';
    const sub = new Subscription(run, after, this, this.store, this.limits);
    if (!set) this.subscribers.set(run, (set = new Set()));
    set.add(sub);
    this.options.afterRegister?.(run);
    return sub;
  }

  /** A chunk was written to the store. */
  publish(run: string, chunk: Chunk): void {
    const set = this.subscribers.get(run);
    if (!set) return;
    for (const sub of set) {
      const before = sub.overflows;
      sub.push({ type: 'chunk', chunk });
      if (sub.overflows !== before) this.options.log?.debug({ run, seq: chunk.seq }, 'a slow live-output subscriber reads on from the store');
    }
  }

  /** The run's output ended after `lastSeq`. */
  publishEnd(run: string, status: string, lastSeq: number): void {
    for (const sub of this.subscribers.get(run) ?? []) sub.push({ type: 'end', status, lastSeq });
  }

  subscriberCount(run: string): number {
    return this.subscribers.get(run)?.size ?? 0;
  }

  /** Closes every subscription (shutdown). */
  closeAll(): void {
    for (const set of [...this.subscribers.values()]) for (const sub of [...set]) sub.close();
  }

  remove(sub: Subscription): void {
    const set = this.subscribers.get(sub.run);
    set?.delete(sub);
    if (set?.size === 0) this.subscribers.delete(sub.run);
  }
}
