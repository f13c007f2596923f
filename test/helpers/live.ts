// A fresh warren.db per test with live output's store, hub and capture on it (real SQLite file).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { Db } from '../../core/db.js';
import { silentLogger } from '../../core/log.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { LiveOutput } from '../../gateway/live/capture.js';
import { DEFAULT_BOUNDS, type OutputBounds } from '../../gateway/live/chunks.js';
import { LiveHub, type HubOptions, type LiveItem, type Subscription } from '../../gateway/live/hub.js';
import { RunOutputStore } from '../../gateway/live/output-store.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';

export interface LiveFixture {
  readonly db: Db;
  readonly store: RunOutputStore;
  readonly hub: LiveHub;
  readonly output: LiveOutput;
  readonly dir: string;
}

export interface LiveSetup {
  bounds?: Partial<OutputBounds>;
  hub?: HubOptions;
  redactorFor?: (tenant: string) => ((text: string) => string) | undefined;
}

export function useLive(setup: LiveSetup | (() => LiveSetup) = {}): LiveFixture {
  const f = {} as { -readonly [K in keyof LiveFixture]: LiveFixture[K] };
  beforeEach(() => {
    const s = typeof setup === 'function' ? setup() : setup;
    f.dir = mkdtempSync(join(tmpdir(), 'warren-live-'));
    f.db = openWarrenDb(f.dir, GATEWAY_MIGRATIONS);
    f.store = new RunOutputStore(f.db, { ...DEFAULT_BOUNDS, ...s.bounds });
    f.hub = new LiveHub(f.store, s.hub);
    f.output = new LiveOutput(f.store, f.hub, s.redactorFor ?? (() => undefined), silentLogger());
  });
  afterEach(() => {
    f.hub.closeAll();
    f.db.close();
    rmSync(f.dir, { recursive: true, force: true });
  });
  return f;
}

/** A subscription the test expects to get (not refused). */
export function subscribed(hub: LiveHub, run: string, after: number): Subscription {
  const sub = hub.subscribe(run, after);
  if (sub === null || sub === 'full') throw new Error(`subscribing to ${run} was refused: ${sub}`);
  return sub;
}

/** Takes from a subscription until its end item (or `limit` items), waiting as a consumer would. */
export async function drain(sub: Subscription, limit = Infinity): Promise<LiveItem[]> {
  const out: LiveItem[] = [];
  while (out.length < limit) {
    const items = sub.take();
    out.push(...items);
    if (sub.isClosed) break;
    if (items.length === 0) await sub.wait();
  }
  return out;
}

/** The seqs of the chunk items, and gaps as "from-to" strings, in order. */
export function sequence(items: readonly LiveItem[]): (number | string)[] {
  return items.map((i) => (i.type === 'chunk' ? i.chunk.seq : i.type === 'gap' ? `gap ${i.gap.from}-${i.gap.to}` : 'end'));
}
