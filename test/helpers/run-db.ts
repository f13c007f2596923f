// A fresh warren.db (gateway tables included) per test, with the stores the turn loop uses on it.
import { afterEach, beforeEach } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../core/db.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { GatedStore } from '../../gated/store.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';
import { RunStore } from '../../gateway/run-store.js';

export interface RunDb {
  readonly db: Db;
  readonly runs: RunStore;
  readonly store: GatedStore;
}

export function useRunDb(instance = 'test'): RunDb {
  const f = {} as { db: Db; runs: RunStore; store: GatedStore; dir: string };
  beforeEach(() => {
    f.dir = mkdtempSync(join(tmpdir(), 'warren-runs-'));
    f.db = openWarrenDb(f.dir, GATEWAY_MIGRATIONS);
    f.runs = new RunStore(f.db, instance);
    f.store = new GatedStore(f.db);
  });
  afterEach(() => {
    f.db.close();
    rmSync(f.dir, { recursive: true, force: true });
  });
  return f;
}
