import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTenant } from '../../../core/tree/load.js';
import { MAX_FILE_BYTES } from '../../../core/tree/layout.js';
import { makeTree, persona, type Fixture } from './fixture.js';

let fx: Fixture;
afterEach(() => fx?.cleanup());

const skill = (name: string, description = 'Does a thing.') => `---\nname: ${name}\ndescription: ${description}\n---\nSteps.\n`;

describe('loadTenant: good folders', () => {
  it('loads persona, grants, allowlist and skills', () => {
    fx = makeTree({
      'acme/PERSONA.md': persona('name: Acme\nharness: script', 'Front desk.'),
      'acme/grants': '# comment\n!issue_token\nsend_file(path=reports/**)\n',
      'acme/allowlist': 'api.github.com\n!bad.example.com\n',
      'acme/skills/summarise/SKILL.md': '---\nname: summarise\ndescription: Summarise.\nalways: [a]\nnever: [b]\n---\n',
      'acme/skills/zeta/SKILL.md': skill('zeta'),
      'acme/skills/README.md': 'notes about skills',
      'acme/notes.txt': 'ignored',
    });
    const { config, errors } = loadTenant(fx.dir, 'acme');
    expect(errors).toEqual([]);
    expect(config).toMatchObject({
      path: 'acme',
      tier: 1,
      dir: fx.at('acme'),
      persona: { frontmatter: { name: 'Acme', harness: 'script' }, body: 'Front desk.\n' },
    });
    expect(config!.grants.map((r) => [r.text, r.effect])).toEqual([
      ['!issue_token', 'deny'],
      ['send_file(path=reports/**)', 'allow'],
    ]);
    expect(config!.grants[0]!.source).toEqual({ kind: 'file', file: fx.at('acme/grants'), line: 2, tenant: 'acme' });
    expect(config!.allowlist.map((e) => [e.name, e.effect, e.line])).toEqual([
      ['api.github.com', 'allow', 1],
      ['bad.example.com', 'deny', 2],
    ]);
    expect(config!.skills).toEqual([
      { name: 'summarise', description: 'Summarise.', always: ['a'], never: ['b'], file: fx.at('acme/skills/summarise/SKILL.md') },
      { name: 'zeta', description: 'Does a thing.', always: [], never: [], file: fx.at('acme/skills/zeta/SKILL.md') },
    ]);
  });

  it('an empty folder is a live tenant with empty persona and no rules', () => {
    fx = makeTree({ 'acme/sales': null });
    expect(loadTenant(fx.dir, 'acme/sales')).toEqual({
      config: {
        path: 'acme/sales',
        tier: 2,
        dir: fx.at('acme/sales'),
        persona: { frontmatter: {}, body: '' },
        grants: [],
        allowlist: [],
        skills: [],
      },
      errors: [],
    });
  });

  it('never reads home/ even when it holds files that would be invalid', () => {
    fx = makeTree({ 'acme/home/PERSONA.md': '---\nbogus: 1\n---\n', 'acme/home/grants': '(((' });
    fs.chmodSync(fx.at('acme/home'), 0o000);
    try {
      expect(loadTenant(fx.dir, 'acme').errors).toEqual([]);
    } finally {
      fs.chmodSync(fx.at('acme/home'), 0o755);
    }
  });
});

describe('loadTenant: every bad input is a ConfigError with file and line', () => {
  const cases: [string, Record<string, string | null>, (fx: Fixture) => void, string, number, RegExp][] = [
    ['unknown persona key', { 'acme/PERSONA.md': '---\nname: A\ndescription: d\ncolour: red\n---\n' }, () => {}, 'acme/PERSONA.md', 4, /unknown key "colour"/],
    ['invalid YAML', { 'acme/PERSONA.md': '---\nname: [unclosed\n---\n' }, () => {}, 'acme/PERSONA.md', 3, /invalid YAML/],
    ['invalid grants line', { 'acme/grants': 'reply\n\n!send_message(chat=tg:*\n' }, () => {}, 'acme/grants', 3, /./],
    ['invalid allowlist line', { 'acme/allowlist': 'ok.example.com\nbad host name\n' }, () => {}, 'acme/allowlist', 2, /./],
    ['symlinked grants', { 'other/grants': '*\n', acme: null }, (f) => f.symlink(f.at('other/grants'), 'acme/grants'), 'acme/grants', 0, /symlink/],
    ['symlinked PERSONA.md', { 'x.md': 'hi', acme: null }, (f) => f.symlink(f.at('x.md'), 'acme/PERSONA.md'), 'acme/PERSONA.md', 0, /symlink/],
    ['dangling symlinked allowlist', { acme: null }, (f) => f.symlink('/nonexistent', 'acme/allowlist'), 'acme/allowlist', 0, /symlink/],
    ['grants is a folder', { 'acme/grants': null }, () => {}, 'acme/grants', 0, /not a regular file/],
    ['grants is a FIFO', { acme: null }, (f) => execFileSync('mkfifo', [f.at('acme/grants')]), 'acme/grants', 0, /not a regular file/],
    ['oversized PERSONA.md', { 'acme/PERSONA.md': 'x'.repeat(MAX_FILE_BYTES + 1) }, () => {}, 'acme/PERSONA.md', 0, /larger than/],
    ['invalid UTF-8', { acme: null }, (f) => fs.writeFileSync(f.at('acme/grants'), Buffer.from([0x72, 0xff, 0x0a])), 'acme/grants', 0, /UTF-8/],
    ['skill name differs from folder', { 'acme/skills/sum/SKILL.md': skill('summary') }, () => {}, 'acme/skills/sum/SKILL.md', 2, /must equal the folder name "sum"/],
    ['skill without description', { 'acme/skills/sum/SKILL.md': '---\nname: sum\n---\n' }, () => {}, 'acme/skills/sum/SKILL.md', 1, /description/],
    ['skill with unknown key', { 'acme/skills/sum/SKILL.md': '---\nname: sum\ndescription: d\nalwyas: [x]\n---\n' }, () => {}, 'acme/skills/sum/SKILL.md', 4, /unknown key "alwyas"/],
    ['skill folder without SKILL.md', { 'acme/skills/sum/notes.md': 'x' }, () => {}, 'acme/skills/sum/SKILL.md', 0, /has no SKILL\.md/],
    ['skill folder with a bad name', { 'acme/skills/Summarise/SKILL.md': skill('Summarise') }, () => {}, 'acme/skills/Summarise', 0, /invalid skill folder name/],
    ['symlinked skill folder', { 'elsewhere/SKILL.md': skill('sum'), 'acme/skills': null }, (f) => f.symlink(f.at('elsewhere'), 'acme/skills/sum'), 'acme/skills/sum', 0, /symlink/],
    ['symlinked skills folder', { 'elsewhere/sum/SKILL.md': skill('sum'), acme: null }, (f) => f.symlink(f.at('elsewhere'), 'acme/skills'), 'acme/skills', 0, /symlink/],
    ['symlinked SKILL.md', { 'x.md': skill('sum'), 'acme/skills/sum': null }, (f) => f.symlink(f.at('x.md'), 'acme/skills/sum/SKILL.md'), 'acme/skills/sum/SKILL.md', 0, /symlink/],
  ];
  it.each(cases)('%s', (_label, files, prepare, file, line, message) => {
    fx = makeTree(files);
    prepare(fx);
    const { config, errors } = loadTenant(fx.dir, 'acme');
    expect(config).toBeNull();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ file: fx.at(file), line });
    expect(errors[0]!.message).toMatch(message);
  });

  it('collects errors from several files at once', () => {
    fx = makeTree({ 'acme/PERSONA.md': '---\nx: 1\n---\n', 'acme/grants': '(\n' });
    const { config, errors } = loadTenant(fx.dir, 'acme');
    expect(config).toBeNull();
    expect(errors.map((e) => e.file)).toEqual([fx.at('acme/PERSONA.md'), fx.at('acme/grants')]);
  });

  it('refuses a tenant reached through a symlinked folder, at any level', () => {
    fx = makeTree({ 'real/team/PERSONA.md': persona('name: T') });
    fx.symlink(fx.at('real'), 'acme');
    for (const t of ['acme', 'acme/team']) {
      const { config, errors } = loadTenant(fx.dir, t);
      expect(config).toBeNull();
      expect(errors).toEqual([{ file: fx.at('acme'), line: 0, message: expect.stringMatching(/symlink/) }]);
    }
  });

  it.each([
    ['root/child', /root has no child tenants/],
    ['Acme', /lowercase/],
    ['acme/home', /reserved/],
    ['acme/../etc', /./],
    ['missing', /does not exist/],
    ['acme/grants', /reserved name, never a tenant: "grants"/],
    [Array.from({ length: 17 }, () => 'a').join('/'), /deeper than 16/],
  ])('refuses tenant path %s', (tenant, message) => {
    fx = makeTree({ 'root/child': null, 'acme/grants': null });
    const { config, errors } = loadTenant(fx.dir, tenant);
    expect(config).toBeNull();
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(message);
  });
});
