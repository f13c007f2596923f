import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { TenantRegistry } from '../../../core/tree/registry.js';
import { makeTree, persona, type Fixture } from './fixture.js';

let fx: Fixture;
afterEach(() => fx?.cleanup());

/** A logger whose lines the test reads: [level, tenant, msg, files]. */
function recordingLogger() {
  const lines: { level: number; tenant?: string; msg: string; files?: string[] }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

function setup(files: Record<string, string | null>, log = silentLogger()) {
  fx = makeTree(files);
  const reg = new TenantRegistry(fx.dir, log);
  const events: string[] = [];
  reg.on('changed', (p) => events.push(`changed ${p}`));
  reg.on('removed', (p) => events.push(`removed ${p}`));
  reg.loadAll();
  return { reg, events };
}

const grantsOf = (reg: TenantRegistry, t: string) => reg.config(t)?.grants.map((r) => r.text) ?? null;

describe('TenantRegistry', () => {
  it('loads a valid tree and announces every tenant', () => {
    const { reg, events } = setup({
      'root/PERSONA.md': persona('name: Root'),
      'acme/grants': '!issue_token\n',
      'acme/support/triage': null,
    });
    expect(reg.list().map((s) => [s.path, s.config?.tier, s.errors.length])).toEqual([
      ['acme', 1, 0],
      ['acme/support', 2, 0],
      ['acme/support/triage', 2, 0],
      ['root', 0, 0],
    ]);
    expect(events).toEqual(['changed acme', 'changed acme/support', 'changed acme/support/triage', 'changed root']);
    expect(reg.errors()).toEqual([]);
    expect(reg.get('nope')).toBeUndefined();
    expect(reg.config('nope')).toBeNull();
  });

  it('keeps the last good config when a file breaks, and restores when it is fixed', () => {
    const { reg, events } = setup({ 'acme/grants': '!issue_token\n' });
    const good = reg.config('acme');
    events.length = 0;

    fx.write('acme/grants', '!issue_token\nsend_message(chat=\n');
    reg.reload('acme');
    const broken = reg.get('acme')!;
    expect(broken.config).toBe(good);
    expect(broken.errors).toMatchObject([{ file: fx.at('acme/grants'), line: 2 }]);
    expect(reg.errors()).toEqual(broken.errors);
    expect(events).toEqual(['changed acme']);

    // Same broken content again: nothing changed, no event.
    reg.reload('acme');
    expect(events).toEqual(['changed acme']);

    fx.write('acme/grants', 'reply\n');
    reg.reload('acme');
    expect(reg.get('acme')!.errors).toEqual([]);
    expect(grantsOf(reg, 'acme')).toEqual(['reply']);
    expect(events).toEqual(['changed acme', 'changed acme']);
  });

  it('a tenant that never had a good config has config null, until it is fixed', () => {
    const { reg } = setup({ 'acme/PERSONA.md': '---\nnmae: x\n---\n', beta: null });
    expect(reg.get('acme')).toMatchObject({ path: 'acme', config: null, errors: [{ line: 2 }] });
    expect(reg.config('beta')).not.toBeNull();
    fx.write('acme/PERSONA.md', persona('name: x'));
    reg.refresh();
    expect(reg.config('acme')?.persona.frontmatter).toEqual({ name: 'x' });
  });

  it('removing a folder removes its whole subtree, deepest first', () => {
    const { reg, events } = setup({ 'acme/support/triage': null, 'acme/sales': null, beta: null });
    events.length = 0;
    fx.rm('acme/support');
    reg.refresh('acme');
    expect(events).toEqual(['removed acme/support/triage', 'removed acme/support']);
    expect(reg.list().map((s) => s.path)).toEqual(['acme', 'acme/sales', 'beta']);

    events.length = 0;
    fx.rm('acme');
    reg.refresh('acme');
    expect(events).toEqual(['removed acme/sales', 'removed acme']);
  });

  it('a tenant folder replaced by a symlink is removed, with an error, and comes back when fixed', () => {
    const { reg, events } = setup({ 'acme/team/grants': 'reply\n', 'real/x': null });
    events.length = 0;
    fx.rm('acme');
    fx.symlink(fx.at('real'), 'acme');
    reg.refresh('acme');
    expect(events).toEqual(['removed acme/team', 'removed acme']);
    expect(reg.errors()).toEqual([{ file: fx.at('acme'), line: 0, message: expect.stringMatching(/symlink/) }]);

    fx.rm('acme');
    fx.mkdir('acme');
    reg.refresh('acme');
    expect(reg.errors()).toEqual([]);
    expect(reg.config('acme')).not.toBeNull();
  });

  it('tree errors of a subtree are replaced by its re-scan, others are kept', () => {
    const { reg } = setup({ 'acme/Bad': null, 'beta/Worse': null });
    expect(reg.errors().map((e) => e.file)).toEqual([fx.at('acme/Bad'), fx.at('beta/Worse')]);
    fx.rm('acme/Bad');
    reg.refresh('acme');
    expect(reg.errors().map((e) => e.file)).toEqual([fx.at('beta/Worse')]);
  });

  it('reload of an unknown tenant finds it (mkdir then edit)', () => {
    const { reg, events } = setup({ acme: null });
    events.length = 0;
    fx.write('acme/sales/grants', 'reply\n');
    reg.reload('acme/sales');
    expect(events).toEqual(['changed acme/sales']);
    expect(grantsOf(reg, 'acme/sales')).toEqual(['reply']);
  });

  it('the new config is visible inside the changed listener', () => {
    const { reg } = setup({ 'acme/grants': 'reply\n' });
    const seen: (string[] | null)[] = [];
    reg.on('changed', (p) => seen.push(grantsOf(reg, p)));
    fx.write('acme/grants', '!reply\n');
    reg.reload('acme');
    expect(seen).toEqual([['!reply']]);
  });

  it('a throwing listener neither stops other listeners nor the refresh', () => {
    const { reg } = setup({ acme: null });
    const seen: string[] = [];
    reg.on('changed', () => {
      throw new Error('boom');
    });
    reg.on('changed', (p) => seen.push(p));
    fx.mkdir('beta');
    fx.mkdir('gamma');
    expect(() => reg.refresh()).not.toThrow();
    expect(seen).toEqual(['beta', 'gamma']);
  });

  it('ancestorConfigs: nearest first, null when an ancestor never had a good config (fail closed)', () => {
    const { reg } = setup({ 'root/PERSONA.md': persona('name: R'), 'acme/grants': '!like\n', 'acme/support/triage': null });
    expect(reg.ancestorConfigs('acme/support/triage')!.map((c) => c.path)).toEqual(['acme/support', 'acme', 'root']);
    expect(reg.ancestorConfigs('root')).toEqual([]);

    fx.write('acme/grants', '(\n'); // broken after a good load: last good denies still apply
    reg.reload('acme');
    expect(reg.ancestorConfigs('acme/support')!.map((c) => c.path)).toEqual(['acme', 'root']);
    expect(reg.ancestorConfigs('acme/support')![0]!.grants.map((r) => r.text)).toEqual(['!like']);

    const fresh = new TenantRegistry(fx.dir, silentLogger()); // never good from the start
    fresh.loadAll();
    expect(fresh.config('acme')).toBeNull();
    expect(fresh.ancestorConfigs('acme/support')).toBeNull();
    expect(fresh.ancestorConfigs('acme/support/triage')).toBeNull();
  });

});

describe('TenantRegistry: last good is per file', () => {
  const denies = (reg: TenantRegistry, t: string) => reg.config(t)?.grants.filter((r) => r.effect === 'deny').map((r) => r.text) ?? null;

  it('a tenant whose grants file never parsed has no config, even when its empty folder had one a moment before', () => {
    const { reg, events } = setup({ acme: null, 'acme/team': null });
    expect(reg.config('acme')).not.toBeNull(); // mkdir: a live tenant on tier defaults
    events.length = 0;

    fx.write('acme/grants', '!send_message(chat=slack:c0ops)\n!issue_token(\n');
    reg.reload('acme');
    expect(reg.get('acme')).toMatchObject({ config: null, errors: [{ file: fx.at('acme/grants'), line: 2 }] });
    expect(reg.ancestorConfigs('acme/team')).toBeNull(); // its subtree is refused too
    expect(events).toEqual(['changed acme']);

    fx.write('acme/grants', '!send_message(chat=slack:c0ops)\n!issue_token\n');
    reg.reload('acme');
    expect(denies(reg, 'acme')).toEqual(['!send_message(chat=slack:c0ops)', '!issue_token']);
  });

  it('a broken edit keeps that file\'s last good contents and takes the other files\' current ones', () => {
    const { reg } = setup({ 'acme/grants': '!issue_token\n', 'acme/PERSONA.md': persona('name: A') });
    fx.write('acme/grants', '!issue_token\n!like(\n');
    fx.write('acme/PERSONA.md', persona('name: B'));
    reg.reload('acme');
    const state = reg.get('acme')!;
    expect(state.errors).toMatchObject([{ file: fx.at('acme/grants'), line: 2 }]);
    expect(state.config?.persona.frontmatter).toEqual({ name: 'B' });
    expect(denies(reg, 'acme')).toEqual(['!issue_token']);

    fx.write('acme/PERSONA.md', '---\nnmae: C\n---\n'); // now both are broken: both keep their last good contents
    reg.reload('acme');
    expect(reg.get('acme')!.errors.map((e) => e.file)).toEqual([fx.at('acme/PERSONA.md'), fx.at('acme/grants')]);
    expect(reg.config('acme')?.persona.frontmatter).toEqual({ name: 'B' });
    expect(denies(reg, 'acme')).toEqual(['!issue_token']);
  });

  it('deleting a file forgets its last good contents: a broken file written again later never parsed', () => {
    const { reg } = setup({ 'acme/grants': '!issue_token\n' });
    fx.write('acme/grants', '!issue_token(\n');
    reg.reload('acme');
    expect(denies(reg, 'acme')).toEqual(['!issue_token']);
    fx.rm('acme/grants');
    reg.reload('acme');
    expect(reg.get('acme')).toMatchObject({ errors: [] });
    expect(denies(reg, 'acme')).toEqual([]);
    fx.write('acme/grants', '!issue_token(\n');
    reg.reload('acme');
    expect(reg.config('acme')).toBeNull();
  });

  it.each([
    ['a new skill that never parsed', { 'acme/skills/sum/SKILL.md': '---\nname: sum\n---\n' }],
    ['a new skill folder without SKILL.md', { 'acme/skills/sum/notes.md': 'x' }],
    ['a new allowlist that never parsed', { 'acme/allowlist': 'bad host name\n' }],
    ['a new PERSONA.md that never parsed', { 'acme/PERSONA.md': '---\nharness: docker\n---\n' }],
    ['a skills folder that is a symlink', { 'elsewhere/sum/SKILL.md': '---\nname: sum\ndescription: d\n---\n' }],
  ])('%s leaves the tenant with no config', (label, files) => {
    const { reg } = setup({ 'acme/grants': '!issue_token\n' });
    for (const [rel, text] of Object.entries(files)) fx.write(rel, text);
    if (label.includes('symlink')) fx.symlink(fx.at('elsewhere'), 'acme/skills');
    reg.reload('acme');
    expect(reg.config('acme')).toBeNull();
    expect(reg.get('acme')!.errors.length).toBeGreaterThan(0);
  });

  it('a skill keeps its last good contents, and a skills folder that turns into a symlink keeps every skill', () => {
    const skill = (d: string) => `---\nname: sum\ndescription: ${d}\n---\n`;
    const { reg } = setup({ 'acme/skills/sum/SKILL.md': skill('Sums.'), 'elsewhere/sum/SKILL.md': skill('Other.') });
    fx.write('acme/skills/sum/SKILL.md', '---\nname: sum\n---\n');
    fx.write('acme/grants', '!like\n');
    reg.reload('acme');
    expect(reg.config('acme')?.skills.map((k) => k.description)).toEqual(['Sums.']);
    expect(denies(reg, 'acme')).toEqual(['!like']);

    fx.rm('acme/skills');
    fx.symlink(fx.at('elsewhere'), 'acme/skills');
    fx.write('acme/grants', '!like\n!issue_token\n');
    reg.reload('acme');
    expect(reg.get('acme')!.errors).toMatchObject([{ file: fx.at('acme/skills'), message: expect.stringMatching(/symlink/) }]);
    expect(reg.config('acme')?.skills.map((k) => k.description)).toEqual(['Sums.']);
    expect(denies(reg, 'acme')).toEqual(['!like', '!issue_token']);
  });

  it('logs which file keeps its last good contents, which never parsed, and what a reload applied', () => {
    const { log, lines } = recordingLogger();
    const { reg } = setup({ 'acme/grants': '!issue_token\n', beta: null }, log);
    lines.length = 0;

    fx.write('acme/grants', '!issue_token(\n');
    fx.write('acme/PERSONA.md', persona('name: A'));
    reg.reload('acme');
    fx.write('beta/allowlist', 'bad host name\n');
    reg.reload('beta');
    fx.write('acme/grants', '!issue_token\n!like\n');
    reg.reload('acme');
    expect(lines.map(({ level, tenant, msg, files }) => ({ level, tenant, msg, ...(files ? { files } : {}) }))).toEqual([
      { level: 40, tenant: 'acme', msg: `${fx.at('acme/grants')}:1: unterminated "(": missing ")" (keeping the last good contents of grants)` },
      { level: 30, tenant: 'acme', msg: 'tenant config applied (PERSONA.md changed)', files: ['PERSONA.md'] },
      { level: 40, tenant: 'beta', msg: expect.stringMatching(/allowlist:1: .* \(allowlist never parsed, so the tenant has no configuration: no socket, every call refused\)$/) },
      { level: 30, tenant: 'beta', msg: 'tenant config withdrawn: the tenant has no configuration', files: ['allowlist'] },
      { level: 30, tenant: 'acme', msg: 'tenant config is valid again' },
      { level: 30, tenant: 'acme', msg: 'tenant config applied (grants changed)', files: ['grants'] },
    ]);
  });
});

describe('subtrees without walking the tree', () => {
  it('knows each tenant\'s children and subtree, and forgets a removed subtree', () => {
    const { reg } = setup({ 'root/PERSONA.md': persona('name: r'), 'acme/support/triage': null, 'acme/sales': null, globex: null });
    expect(reg.childrenOf('root')).toEqual(['acme', 'globex']);
    expect(reg.childrenOf('acme')).toEqual(['acme/sales', 'acme/support']);
    expect(reg.subtreeOf('acme').sort()).toEqual(['acme', 'acme/sales', 'acme/support', 'acme/support/triage']);
    expect(reg.subtreeOf('nowhere')).toEqual([]);

    fx.rm('acme/support');
    reg.refresh('acme/support');
    expect(reg.childrenOf('acme')).toEqual(['acme/sales']);
    expect(reg.subtreeOf('acme').sort()).toEqual(['acme', 'acme/sales']);
    expect(reg.list().map((s) => s.path)).toEqual(['acme', 'acme/sales', 'globex', 'root']);

    fx.mkdir('acme/support/new');
    reg.refresh('acme/support');
    expect(reg.subtreeOf('acme').sort()).toEqual(['acme', 'acme/sales', 'acme/support', 'acme/support/new']);
    expect(reg.list().map((s) => s.path)).toContain('acme/support/new');
  });
});
