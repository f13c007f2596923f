import { describe, it, expect, afterEach } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../core/db.js';
import { silentLogger } from '../../core/log.js';
import { EGRESS_MIGRATIONS, EgressLog, queryEgressLog, type EgressEvent } from '../../crackbox/egress-log.js';

const dirs: string[] = [];
function tempDb(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warren-'));
  dirs.push(dir);
  return path.join(dir, 'warren.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const event = (over: Partial<EgressEvent> = {}): EgressEvent => ({
  tenant: 'acme',
  kind: 'connect',
  name: 'api.github.com',
  port: 443,
  allowed: true,
  rule: 'api.github.com (/t/acme/allowlist:1)',
  reason: 'api.github.com:443 is allowed',
  ...over,
});

describe('EgressLog', () => {
  it('buffers rows and writes them in one batch on flush', () => {
    const log = EgressLog.open(tempDb(), { log: silentLogger(), flushIntervalMs: 60_000 });
    log.record(event());
    log.record(event({ allowed: false, name: 'evil.example', rule: 'default-deny', reason: 'no allowlist entry matches' }));
    expect(queryEgressLog(log.db)).toEqual([]);
    expect(log.pending).toBe(2);
    expect(log.flush()).toBe(2);
    const rows = queryEgressLog(log.db);
    expect(rows.map((r) => [r.name, r.allowed])).toEqual([
      ['evil.example', false],
      ['api.github.com', true],
    ]);
    log.close();
    log.db.close();
  });

  it('writes large batches (several multi-row INSERTs plus a remainder) completely and in order', () => {
    const log = EgressLog.open(tempDb(), { log: silentLogger(), flushIntervalMs: 60_000, maxBatch: 1000 });
    for (let i = 0; i < 123; i++) log.record(event({ name: `n${i}.example`, port: i % 2 ? null : i, allowed: i % 3 === 0, time: 1000 + i }));
    expect(log.flush()).toBe(123);
    const rows = queryEgressLog(log.db, { limit: 1000 }).reverse();
    expect(rows).toHaveLength(123);
    rows.forEach((r, i) => {
      expect(r).toMatchObject({ name: `n${i}.example`, port: i % 2 ? null : i, allowed: i % 3 === 0, time: 1000 + i, tenant: 'acme', kind: 'connect' });
    });
    log.close();
    log.db.close();
  });

  it('flushes on size', () => {
    const log = EgressLog.open(tempDb(), { log: silentLogger(), maxBatch: 10, flushIntervalMs: 60_000 });
    for (let i = 0; i < 25; i++) log.record(event({ port: i + 1 }));
    expect(log.pending).toBe(5);
    expect(queryEgressLog(log.db, { limit: 100 })).toHaveLength(20);
    log.close();
    expect(queryEgressLog(log.db, { limit: 100 })).toHaveLength(25);
    log.db.close();
  });

  it('flushes on its timer', async () => {
    const log = EgressLog.open(tempDb(), { log: silentLogger(), flushIntervalMs: 5 });
    log.record(event());
    await expect.poll(() => queryEgressLog(log.db).length).toBe(1);
    log.close();
    log.db.close();
  });

  it('rows survive reopening the database (close flushes)', () => {
    const file = tempDb();
    const log = EgressLog.open(file, { log: silentLogger() });
    log.record(event({ kind: 'dns', port: null }));
    log.close();
    log.db.close();
    const db = openDb(file, EGRESS_MIGRATIONS);
    expect(queryEgressLog(db)).toMatchObject([{ kind: 'dns', port: null, tenant: 'acme', allowed: true }]);
    db.close();
  });

  it('queries by tenant subtree, denied only, and limit', () => {
    const log = EgressLog.open(tempDb(), { log: silentLogger() });
    let t = 1000;
    for (const [tenant, allowed] of [
      ['acme', true],
      ['acme/support', false],
      ['acme/support', true],
      ['acmeish', false],
      ['other', false],
    ] as const) {
      log.record(event({ tenant, allowed, time: t++ }));
    }
    log.flush();
    expect(queryEgressLog(log.db, { tenant: 'acme' }).map((r) => r.tenant)).toEqual(['acme/support', 'acme/support', 'acme']);
    expect(queryEgressLog(log.db, { tenant: 'acme', deniedOnly: true }).map((r) => r.time)).toEqual([1001]);
    expect(queryEgressLog(log.db, { deniedOnly: true }).map((r) => r.tenant)).toEqual(['other', 'acmeish', 'acme/support']);
    expect(queryEgressLog(log.db, { limit: 2 }).map((r) => r.time)).toEqual([1004, 1003]);
    log.close();
    log.db.close();
  });

  it('a failing database does not throw into the caller and keeps the rows for later', () => {
    const log = EgressLog.open(tempDb(), { log: silentLogger(), maxBatch: 2, flushIntervalMs: 60_000 });
    log.db.exec('DROP TABLE egress_log');
    expect(() => {
      log.record(event());
      log.record(event());
    }).not.toThrow();
    expect(log.pending).toBe(2);
    log.close();
    expect(log.dropped).toBe(2);
    log.db.close();
  });
});

describe('EgressLog retention', () => {
  it('prunes rows past the retention period at start and on demand, keeping the rest', () => {
    const file = tempDb();
    let now = 1_000_000_000_000;
    const day = 24 * 3_600_000;
    const first = EgressLog.open(file, { log: silentLogger(), now: () => now, retentionMs: 14 * day });
    first.record(event({ name: 'old.example', time: now - 20 * day }));
    first.record(event({ name: 'recent.example', time: now - 2 * day }));
    first.flush();
    expect(first.prune()).toBe(1);
    expect(queryEgressLog(first.db).map((r) => r.name)).toEqual(['recent.example']);
    first.close();
    now += 13 * day; // recent.example is now 15 days old: the next start prunes it
    const second = EgressLog.open(file, { log: silentLogger(), now: () => now, retentionMs: 14 * day });
    expect(queryEgressLog(second.db)).toEqual([]);
    second.close();
  });
});
