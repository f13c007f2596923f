// `warren workers` as an operator runs it (the built CLI), without a running gateway: read-only, coordinators from the
// runs table (and said so), workers from warren.db, cut to a subtree.
import { existsSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { RunStore } from '../../../gateway/run-store.js';
import { listingText, workerLine } from '../../../gateway/cli/workers.js';
import { warren } from '../../helpers/cli.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';

const coordinatorPersona = '---\nharness: script\nalways_on: true\nscript:\n  - match: ".*"\n    reply: ok\n---\nA coordinator.\n';
const plainPersona = '---\nharness: script\nscript:\n  - match: ".*"\n    reply: ok\n---\nA turn per message.\n';

let tree: TempTree;
beforeEach(() => {
  tree = tempTree({ 'acme/PERSONA.md': coordinatorPersona, 'acme/support/PERSONA.md': plainPersona, 'globex/PERSONA.md': coordinatorPersona });
});
afterEach(() => tree.cleanup());

const workers = (...args: string[]) => warren(['workers', ...args, '--tenants', tree.tenants, '--data', tree.data]);

describe('warren workers', () => {
  it('says there is no warren data, and creates none', () => {
    const missing = `${tree.data}-nope`;
    const r = warren(['workers', '--tenants', tree.tenants, '--data', missing]);
    expect([r.status, r.stderr]).toEqual([1, `warren workers: no warren data at ${missing}\n`]);
    expect(existsSync(missing)).toBe(false);
  });

  it("without a gateway: coordinators are the always_on tenants' turns still marked running, said so; cut to a subtree", () => {
    const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
    try {
      const store = new GatedStore(db);
      const runs = new RunStore(db, 'test', store);
      for (const tenant of ['acme', 'acme/support', 'globex']) {
        store.addMessage({ tenant, topic: 'main', kind: 'chat', chat: 'local:x', sender: 'ann', text: 'go' });
        runs.tryStart(tenant, 'main', 10);
      }
      const spawn = (tenant: string, brief: string) => store.addWorker({ tenant, topic: 'main', spawnedBy: 'run_x', brief });
      store.startWorker(spawn('acme', 'Build the backend\nthoroughly').id, 'c-backend');
      spawn('acme/support', 'Triage the queue');
      store.cancelWorker('globex', spawn('globex', 'Globex job').id);
    } finally {
      db.close();
    }
    const all = workers('--json');
    expect(all.status).toBe(0);
    const listing = JSON.parse(all.stdout);
    expect(listing.coordinators.source).toBe('runs');
    // acme/support runs a container per message: its turn is no coordinator.
    expect(listing.coordinators.items.map((c: { tenant: string }) => c.tenant)).toEqual(['acme', 'globex']);
    expect(listing.coordinators.items[0]).toMatchObject({ state: 'running', busy_with: expect.stringMatching(/^run_/), container: null });
    // Queued and running workers of the whole tree; the cancelled one only with --all.
    // (Spawned in the same millisecond: the store's order among them is its ids', so the test sorts.)
    expect(listing.workers.map((w: { tenant: string; state: string; brief: string; container: string | null }) => [w.tenant, w.state, w.brief, w.container]).sort()).toEqual([
      ['acme', 'running', 'Build the backend', 'c-backend'],
      ['acme/support', 'queued', 'Triage the queue', null],
    ]);
    const every = JSON.parse(workers('--all', '--json').stdout);
    expect(every.workers.map((w: { state: string }) => w.state).sort()).toEqual(['cancelled', 'queued', 'running']);

    const acme = workers('acme');
    expect(acme.status).toBe(0);
    const lines = acme.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`coordinators (no running gateway on ${tree.data}: turns of always_on tenants still marked running in the runs table):`);
    expect(lines[1]).toMatch(/^ {2}acme +running +\d+s {2}- {2}turn run_/);
    expect(lines[2]).toBe('workers (warren.db):');
    expect(lines).toHaveLength(5);
    expect(lines.slice(3)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ {2}w-[0-9a-f]{12} +acme +running +\d+s {2}c-backend +Build the backend$/),
      expect.stringMatching(/^ {2}w-[0-9a-f]{12} +acme\/support +queued +\d+s {2}- +Triage the queue$/),
    ]));
    expect(workers('globex').stdout).toMatch(/workers \(warren.db\):\n {2}none\n$/);
  });
});

describe('workerLine and listingText', () => {
  const now = Date.parse('2026-12-01T12:00:00.000Z');
  it.each([
    ['running: from its start', { state: 'running' as const, createdAt: now - 90_000, startedAt: now - 60_000, endedAt: null }, 60],
    ['queued: from when it was queued', { state: 'queued' as const, createdAt: now - 5_000, startedAt: null, endedAt: null }, 5],
    ['ended: from its end', { state: 'done' as const, createdAt: now - 90_000, startedAt: now - 60_000, endedAt: now - 1_000 }, 1],
  ])('%s', (_name, times, forS) => {
    const line = workerLine({ id: 'w-1', tenant: 'acme', topic: 'main', brief: '\nBuild it\nthen ship it', container: null, ...times }, now);
    expect(line).toEqual({ id: 'w-1', tenant: 'acme', state: times.state, for_s: forS, brief: 'Build it', container: null });
  });

  it('prints one line per coordinator and worker, with the live source said', () => {
    const text = listingText(
      {
        coordinators: { source: 'gateway', items: [{ tenant: 'acme', state: 'waiting', for_s: 125, busy_with: null, container: 'warren-i-acme-run_1' }] },
        workers: [{ id: 'w-0123456789ab', tenant: 'acme', state: 'running', for_s: 3, brief: 'Build the site', container: 'f00d' }],
      },
      '/srv/data',
    );
    expect(text).toBe(
      [
        'coordinators (the running gateway on /srv/data, live):',
        '  acme                     waiting     2m 5s  warren-i-acme-run_1',
        'workers (warren.db):',
        '  w-0123456789ab   acme                     running        3s  f00d            Build the site',
        '',
      ].join('\n'),
    );
  });
});
