// The audit log: digests keyed with the installation's key, the reason every refused call was given, what
// `warren audit` shows and `warren audit digest` confirms, and retention pruned in small batches while calls go on.
import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { silentLogger } from '../../core/log.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { Gated } from '../../gated/broker.js';
import { describe, expect, it } from 'vitest';
import { argsDigest, auditRetentionDays, canonicalJson, withoutArgumentValues } from '../../gated/audit.js';
import { auditDbPath } from '../../gated/audit-db.js';
import { loadAuditKey } from '../../gated/audit-key.js';
import { warren } from '../helpers/cli.js';
import { useGated } from '../helpers/gated.js';
import { standardTree } from '../helpers/tree.js';
import { connectClient, textOf } from '../helpers/mcp.js';

describe('keyed digests', () => {
  const key = randomBytes(32);
  const args = { chat: 'local:ops', text: 'wire the money', n: [1, 2] };

  it('the same arguments give the same digest under one key, whatever the key order', () => {
    expect(argsDigest(key, args)).toBe(argsDigest(key, { n: [1, 2], text: 'wire the money', chat: 'local:ops' }));
    expect(argsDigest(key, args)).toMatch(/^[0-9a-f]{64}$/);
    expect(argsDigest(key, { ...args, text: 'wire the money!' })).not.toBe(argsDigest(key, args));
  });

  it('another key gives another digest', () => {
    expect(argsDigest(randomBytes(32), args)).not.toBe(argsDigest(key, args));
  });

  it('a plain SHA-256 of the arguments no longer matches, so short values cannot be confirmed by guessing', () => {
    const plain = createHash('sha256').update(canonicalJson(args)).digest('hex');
    expect(argsDigest(key, args)).not.toBe(plain);
    const pin = { code: '4711' };
    const guesses = Array.from({ length: 10_000 }, (_, i) => createHash('sha256').update(canonicalJson({ code: String(i).padStart(4, '0') })).digest('hex'));
    expect(guesses).not.toContain(argsDigest(key, pin));
  });
});

describe('reasons without argument values', () => {
  const table: [string, unknown, string][] = [
    ['delegate_group only reaches your descendants, and "globex" is not one (you are acme)', { group: 'globex', prompt: 'p' },
      'delegate_group only reaches your descendants, and "[value]" is not one (you are acme)'],
    ['reports/q3.pdf resolves outside your home', { path: 'reports/q3.pdf' }, '[value] resolves outside your home'],
    ['"ab" is not a valid name; ab is short', { name: 'ab' }, '"[value]" is not a valid name; ab is short'],
    ['denied by rule "!send_file(path=private/**)" (acme/grants:2)', { path: 'private/x' }, 'denied by rule "!send_file(path=private/**)" (acme/grants:2)'],
    ['nested secret hunter2 is here', { a: [{ b: 'hunter2' }] }, 'nested secret [value] is here'],
    ['limit 12345 is too big', { limit: 12345 }, 'limit [value] is too big'],
    ['prefix: long-value and long', { x: 'long', y: 'long-value' }, 'prefix: [value] and [value]'],
  ];
  for (const [text, args, expected] of table) {
    it(`${JSON.stringify(args)}: ${expected}`, () => expect(withoutArgumentValues(text, args)).toBe(expected));
  }
});

describe('retention setting', () => {
  const table: [string | undefined, number | RegExp][] = [
    [undefined, 30],
    ['', 30],
    ['7', 7],
    ['0.5', 0.5],
    ['0', /must be a positive number of days \(got "0"\)/],
    ['-3', /must be a positive number/],
    ['thirty', /must be a positive number of days \(got "thirty"\)/],
  ];
  for (const [raw, expected] of table) {
    it(`WARREN_AUDIT_DAYS=${raw ?? '(unset)'}`, () => {
      const env = raw === undefined ? {} : { WARREN_AUDIT_DAYS: raw };
      if (typeof expected === 'number') expect(auditRetentionDays(env)).toBe(expected);
      else expect(() => auditRetentionDays(env)).toThrow(expected);
    });
  }
});

describe('audit rows of refused calls', () => {
  const f = useGated();
  const rowsOf = (tenant: string, tool: string) =>
    f.gated.audit.db.prepare('SELECT * FROM audit WHERE tenant = ? AND tool = ? ORDER BY id').all(tenant, tool) as Record<string, any>[];

  it('every deny, invalid and unknown row holds the sentence the agent got, minus argument values', async () => {
    const team = await connectClient(f.gated.socketPath('acme/support'));
    const world = await connectClient(f.gated.socketPath('acme'));
    const cases = [
      { client: team, tenant: 'acme/support', tool: 'send_message', args: { chat: 'local:nowhere', text: 'psst' }, decision: 'deny' },
      { client: world, tenant: 'acme', tool: 'delegate_group', args: { group: 'globex', prompt: 'take over' }, decision: 'deny' },
      { client: world, tenant: 'acme', tool: 'whoami', args: { junk: 'zzz-secret' }, decision: 'invalid' },
      { client: world, tenant: 'acme', tool: 'no_such_tool', args: { q: 'zzz-other' }, decision: 'unknown' },
    ];
    for (const c of cases) {
      const result = await c.client.callTool({ name: c.tool, arguments: c.args });
      expect(result.isError).toBe(true);
      const [row] = rowsOf(c.tenant, c.tool).slice(-1);
      expect(row!.decision).toBe(c.decision);
      expect(row!.reason).toBe(withoutArgumentValues(textOf(result), c.args));
      expect(row!.reason.length).toBeGreaterThan(10);
      for (const v of Object.values(c.args)) expect(row!.reason).not.toContain(v);
    }
    expect(rowsOf('acme/support', 'send_message').at(-1)!.reason).toMatch(/^denied: no rule allows "send_message" with these arguments/);
    expect(rowsOf('acme', 'delegate_group').at(-1)!.reason).toBe(
      'denied: delegate_group only reaches your descendants, and "[value]" is not one (you are acme).',
    );
    await team.close();
    await world.close();
  });

  it('allowed calls have no reason', async () => {
    const world = await connectClient(f.gated.socketPath('acme'));
    await world.callTool({ name: 'whoami', arguments: {} });
    expect(rowsOf('acme', 'whoami').at(-1)).toMatchObject({ decision: 'allow', reason: null });
    await world.close();
  });

  it('warren audit shows the reason; warren audit digest confirms the arguments of a row', async () => {
    const world = await connectClient(f.gated.socketPath('acme'));
    const args = { group: 'initech', prompt: 'the TPS reports' };
    await world.callTool({ name: 'delegate_group', arguments: args });
    await world.close();
    const listed = warren(['audit', '--denied', '--tenant', 'acme', '--data', f.tree.data]);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/delegate_group .* reason: denied: delegate_group only reaches your descendants, and "\[value\]" is not one/);
    expect(listed.stdout).not.toContain('initech');

    const row = rowsOf('acme', 'delegate_group').at(-1)!;
    const confirmed = warren(['audit', 'digest', JSON.stringify({ prompt: 'the TPS reports', group: 'initech' }), '--data', f.tree.data]);
    expect(confirmed.status).toBe(0);
    expect(confirmed.stdout.trim()).toBe(row.args_digest);
    expect(row.args_digest).toBe(argsDigest(loadAuditKey(f.tree.data, { create: false }), args));
    const wrongGuess = warren(['audit', 'digest', JSON.stringify({ ...args, group: 'initech2' }), '--data', f.tree.data]);
    expect(wrongGuess.stdout.trim()).not.toBe(row.args_digest);
    const bad = warren(['audit', 'digest', '{not json', '--data', f.tree.data]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/not valid JSON/);
  });
});

describe('retention', () => {
  const OLD_ROWS = 20_000;
  const BATCH = 100;
  const passes: { rows: number; batches: number }[] = [];
  const f = useGated({ gated: { audit: { retentionDays: 1, pruneEveryMs: 300, pruneBatchRows: BATCH, onPruned: (p) => passes.push(p) } } });

  it('removes only rows older than the retention, a small batch per statement, while calls continue', async () => {
    // Rows from ten days ago, then one from twelve hours ago (kept), written as an older gated would have.
    const db = new Database(auditDbPath(f.tree.data));
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    const insert = db.prepare(`INSERT INTO audit (time, tenant, run, tool, decision, rule, duration_us, outcome, args_digest, args_shape)
      VALUES (?, 'acme', NULL, 'whoami', 'allow', NULL, 5, 'ok', 'x', '{}')`);
    db.transaction(() => {
      for (let i = 0; i < OLD_ROWS; i++) insert.run(old);
      insert.run(new Date(Date.now() - 12 * 3_600_000).toISOString());
    })();
    const countOld = db.prepare('SELECT COUNT(*) AS n FROM audit WHERE time < ?').pluck();
    const cutoff = new Date(Date.now() - 86_400_000).toISOString();
    const passesBefore = passes.length;

    // Calls go on meanwhile; each one's row is there (read by another connection) when its result arrives.
    const client = await connectClient(f.gated.socketPath('acme'));
    const oldLeftWhenAnswered: number[] = [];
    let calls = 0;
    while (passes.slice(passesBefore).every((p) => p.rows === 0)) {
      const text = `call ${calls++}`;
      const result = await client.callTool({ name: 'send_message', arguments: { chat: 'local:ops', text } });
      expect(textOf(result)).toMatch(/^queued/);
      oldLeftWhenAnswered.push(countOld.get(cutoff) as number);
    }
    await client.close();

    const pass = passes.slice(passesBefore).find((p) => p.rows > 0)!;
    expect(pass).toEqual({ rows: OLD_ROWS, batches: OLD_ROWS / BATCH });
    expect(countOld.get(cutoff)).toBe(0);
    expect(db.prepare("SELECT COUNT(*) AS n FROM audit WHERE tool = 'send_message'").pluck().get()).toBe(calls);
    expect(db.prepare('SELECT COUNT(*) AS n FROM audit WHERE time >= ?').pluck().get(cutoff)).toBe(calls + 1);
    // Some calls were answered while pruning was under way: it did not hold them up until it was done.
    expect(oldLeftWhenAnswered.some((n) => n > 0 && n < OLD_ROWS)).toBe(true);
    db.close();
  });
});

describe('rows written into warren.db by an older gated', () => {
  it('move to audit.db once, in order, and leave warren.db', async () => {
    const tree = standardTree();
    try {
      const old = openWarrenDb(tree.data);
      const insert = old.prepare(`INSERT INTO audit (time, tenant, run, tool, decision, rule, duration_us, outcome, args_digest, args_shape)
        VALUES (?, 'acme', NULL, ?, 'allow', NULL, 5, 'ok', 'plain', '{}')`);
      for (const tool of ['first', 'second', 'third']) insert.run(new Date().toISOString(), tool);
      old.close();
      for (let start = 0; start < 2; start++) {
        const gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
        expect(gated.audit.query().map((r) => r.tool)).toEqual(['first', 'second', 'third']);
        expect(gated.db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit'").pluck().get()).toBe(0);
        await gated.stop();
      }
    } finally {
      tree.cleanup();
    }
  });
});
