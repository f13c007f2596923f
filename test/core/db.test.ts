// SQLite files: private whatever the umask, migrations applied once by name.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb } from '../../core/db.js';

describe('openDb', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the database and its WAL readable by the owner only, even with a permissive umask', () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-db-'));
    const old = process.umask(0o000);
    try {
      const db = openDb(join(dir, 'x.db'), [{ name: 'one', sql: 'CREATE TABLE t (a)' }]);
      db.prepare('INSERT INTO t VALUES (1)').run();
      for (const f of ['x.db', 'x.db-wal']) expect(statSync(join(dir, f)).mode & 0o077, f).toBe(0);
      db.close();
    } finally {
      process.umask(old);
    }
  });

  it('applies each migration once, by name', () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-db-'));
    const migrations = [{ name: 'one', sql: 'CREATE TABLE t (a)' }];
    openDb(join(dir, 'x.db'), migrations).close();
    const db = openDb(join(dir, 'x.db'), [...migrations, { name: 'two', sql: 'ALTER TABLE t ADD COLUMN b' }]);
    expect(db.prepare('SELECT name FROM migrations ORDER BY name').all()).toEqual([{ name: 'one' }, { name: 'two' }]);
    db.close();
  });
});
