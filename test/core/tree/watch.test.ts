import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { TenantRegistry } from '../../../core/tree/registry.js';
import { pino } from 'pino';
import {
  actionFor,
  isIgnoredPath,
  nextEvent,
  plan,
  recommendedWatchLimit,
  watchLimitAdvice,
  watchTree,
  type Batch,
  type TreeWatcher,
} from '../../../core/tree/watch.js';
import { makeTree, type Fixture } from './fixture.js';

describe('watch decisions (pure)', () => {
  it.each([
    ['acme', false],
    ['acme/grants', false],
    ['acme/Bad', false],
    ['acme/Bad/inner', true],
    ['acme/home', true],
    ['acme/home/notes.txt', true],
    ['acme/support/home/x/y', true],
    ['acme/.grants.swp', true],
    ['.git', true],
    ['acme/grants/x', true],
    ['acme/skills', false],
    ['acme/skills/sum', false],
    ['acme/skills/sum/SKILL.md', false],
    ['acme/skills/sum/scripts', true],
    ['acme/skills/sum/scripts/run.sh', true],
    ['root/child', false],
    ['root/child/grants', true],
    ['home', false],
    ['home/x', true],
  ])('isIgnoredPath(%s) = %s', (rel, ignored) => {
    expect(isIgnoredPath(rel)).toBe(ignored);
  });

  it.each([
    ['change', 'acme/grants', { kind: 'reload', tenant: 'acme' }],
    ['add', 'acme/support/PERSONA.md', { kind: 'reload', tenant: 'acme/support' }],
    ['unlink', 'acme/allowlist', { kind: 'reload', tenant: 'acme' }],
    ['add', 'acme/skills/sum/SKILL.md', { kind: 'reload', tenant: 'acme' }],
    ['unlinkDir', 'acme/skills/sum', { kind: 'reload', tenant: 'acme' }],
    ['addDir', 'acme/sales', { kind: 'subtree', tenant: 'acme/sales' }],
    ['unlinkDir', 'acme', { kind: 'subtree', tenant: 'acme' }],
    ['add', 'acme/linked', { kind: 'subtree', tenant: 'acme/linked' }],
    ['addDir', 'acme/Bad', { kind: 'subtree', tenant: 'acme' }],
    ['addDir', 'root/child', { kind: 'subtree', tenant: 'root' }],
    ['add', 'acme/notes.txt', { kind: 'subtree', tenant: 'acme' }],
    ['change', 'acme/notes.txt', null],
    ['addDir', 'Bad', { kind: 'full' }],
    ['change', 'README.md', { kind: 'full' }],
    ['unlinkDir', '', { kind: 'full' }],
    ['change', 'acme/home/grants', null],
    ['addDir', 'acme/home', null],
  ])('actionFor(%s, %s)', (event, rel, action) => {
    expect(actionFor(event, rel)).toEqual(action);
  });

  it('plan merges covered work', () => {
    expect(plan(false, ['acme/support', 'acme', 'beta/x'], ['acme/support/triage', 'beta', 'gamma'])).toEqual({
      full: false,
      subtrees: ['acme', 'beta/x'],
      reloads: ['beta', 'gamma'],
    });
    expect(plan(true, ['acme'], ['beta'])).toEqual({ full: true, subtrees: [], reloads: [] });
    expect(plan(false, ['root'], ['root', 'rooted'])).toEqual({ full: false, subtrees: ['root'], reloads: ['rooted'] });
  });
});

describe('the inotify watch limit (pure)', () => {
  it.each([
    // needed, limit, level
    [100, null, null],
    [100, 8192, null],
    [8000, 10000, null],
    [8001, 10000, 'warn'],
    [10000, 10000, 'warn'],
    [10001, 10000, 'error'],
    [21003, 8192, 'error'],
  ])('%d watches under a limit of %s -> %s', (needed, limit, level) => {
    const advice = watchLimitAdvice(needed, limit);
    expect(advice?.level ?? null).toBe(level);
    if (advice) {
      expect(advice.message).toContain(`needs ${needed} inotify watches`);
      expect(advice.message).toContain(`sysctl -w fs.inotify.max_user_watches=${advice.recommended}`);
      expect(advice.recommended).toBeGreaterThanOrEqual(2 * needed);
    }
  });

  it('recommends twice the need in whole KiB, and 64Ki at least', () => {
    expect(recommendedWatchLimit(10)).toBe(65536);
    expect(recommendedWatchLimit(100_000)).toBe(200_704);
  });

});

describe('watchTree (real files, real fs.watch)', () => {
  let fx: Fixture;
  let watcher: TreeWatcher | undefined;
  afterEach(async () => {
    await watcher?.close();
    watcher = undefined;
    fx?.cleanup();
  });

  async function start(files: Record<string, string | null>) {
    fx = makeTree(files);
    const reg = new TenantRegistry(fx.dir, silentLogger());
    reg.loadAll();
    const batches: Batch[] = [];
    watcher = await watchTree(reg, { log: silentLogger(), onBatch: (b) => batches.push(b) });
    return { reg, batches };
  }

  it('says at start how many inotify watches the tree needs and the sysctl to set when the limit is too low', async () => {
    fx = makeTree({
      'acme/PERSONA.md': '---\nname: a\ndescription: a\n---\n',
      'acme/grants': 'reply\n',
      'acme/skills/sum/SKILL.md': '---\nname: sum\ndescription: s\n---\n',
      'acme/support': null,
      'acme/home/x': 'x',
    });
    const reg = new TenantRegistry(fx.dir, silentLogger());
    reg.loadAll();
    const lines: { level: number; msg: string; watches?: number }[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    watcher = await watchTree(reg, { log, watchLimit: 3 });
    // One per folder: the tenants folder, acme, acme/support, acme/skills/sum's two (home/ and files never).
    expect(watcher.watched()).toEqual(['', 'acme', 'acme/skills', 'acme/skills/sum', 'acme/support']);
    const held = watcher.watched().length;
    const warning = lines.find((l) => l.msg.includes('inotify'));
    expect(warning).toMatchObject({ level: 50, watches: held });
    expect(warning!.msg).toContain(`needs ${held} inotify watches but fs.inotify.max_user_watches is 3`);
    expect(warning!.msg).toContain('sysctl -w fs.inotify.max_user_watches=65536');
  });

  it('says nothing about inotify when the limit leaves room', async () => {
    fx = makeTree({ acme: null });
    const reg = new TenantRegistry(fx.dir, silentLogger());
    reg.loadAll();
    const lines: { level: number; msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    watcher = await watchTree(reg, { log, watchLimit: 1_000_000 });
    expect(lines.filter((l) => l.msg.includes('inotify'))).toEqual([]);
  });

  it('mkdir of a tenant folder -> changed, and it is live', async () => {
    const { reg } = await start({ acme: null });
    const changed = nextEvent(reg, 'changed', 'acme/sales');
    fx.mkdir('acme/sales');
    await changed;
    expect(reg.config('acme/sales')).toMatchObject({ path: 'acme/sales', tier: 2, grants: [] });
  });

  it('a grants edit is visible to the very next decision after the event', async () => {
    const { reg } = await start({ 'acme/grants': 'reply\n' });
    let seen: string[] | undefined;
    reg.on('changed', (p) => {
      if (p === 'acme') seen = reg.config('acme')!.grants.map((r) => r.text);
    });
    const changed = nextEvent(reg, 'changed', 'acme');
    fx.write('acme/grants', 'reply\n!send_message(chat=tg:*)\n');
    await changed;
    expect(seen).toEqual(['reply', '!send_message(chat=tg:*)']);
  });

  it('a broken edit keeps the last good rules and reports the line; a fix restores', async () => {
    const { reg } = await start({ 'acme/grants': 'reply\n' });
    let changed = nextEvent(reg, 'changed', 'acme');
    fx.write('acme/grants', 'reply\nsend_message(chat=\n');
    await changed;
    expect(reg.get('acme')!.errors).toMatchObject([{ file: fx.at('acme/grants'), line: 2 }]);
    expect(reg.config('acme')!.grants.map((r) => r.text)).toEqual(['reply']);

    changed = nextEvent(reg, 'changed', 'acme');
    fx.write('acme/grants', 'like\n');
    await changed;
    expect(reg.get('acme')!.errors).toEqual([]);
    expect(reg.config('acme')!.grants.map((r) => r.text)).toEqual(['like']);
  });

  it('rm -rf of a subtree -> removed for each tenant in it', async () => {
    const { reg } = await start({ 'acme/support/triage/deep': null, 'acme/sales': null });
    const removed = ['acme/support', 'acme/support/triage', 'acme/support/triage/deep'].map((t) => nextEvent(reg, 'removed', t));
    fs.rmSync(fx.at('acme/support'), { recursive: true });
    await Promise.all(removed);
    expect(reg.list().map((s) => s.path)).toEqual(['acme', 'acme/sales']);
  });

  it('a skill edit reloads the tenant', async () => {
    const { reg } = await start({ 'acme/skills/sum/SKILL.md': '---\nname: sum\ndescription: old\n---\n' });
    const changed = nextEvent(reg, 'changed', 'acme');
    fx.write('acme/skills/sum/SKILL.md', '---\nname: sum\ndescription: new\n---\n');
    await changed;
    expect(reg.config('acme')!.skills[0]!.description).toBe('new');
  });

  it('writes under home/ cause no events and are never watched', async () => {
    const { reg, batches } = await start({ 'acme/home': null, beta: null });
    const events: string[] = [];
    reg.on('changed', (p) => events.push(p));
    reg.on('removed', (p) => events.push(`-${p}`));

    fx.write('acme/home/grants', '(((\n');
    fx.write('acme/home/PERSONA.md', '---\nbogus: 1\n---\n');
    fx.mkdir('acme/home/Nested Folder/deeper');
    fx.write('acme/home/Nested Folder/deeper/x.txt', 'x');
    // A sentinel change elsewhere: once its event arrives, everything written before it has been processed.
    const sentinel = nextEvent(reg, 'changed', 'beta');
    fx.write('beta/grants', 'reply\n');
    await sentinel;

    expect(events).toEqual(['beta']);
    expect(batches.flatMap((b) => [...b.subtrees, ...b.reloads, ...(b.full ? ['*'] : [])])).toEqual(['beta']);
    expect(reg.errors()).toEqual([]);
    expect(watcher!.watched().filter((d) => d.split('/').includes('home'))).toEqual([]);
  });
});
