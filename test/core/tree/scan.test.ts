import { afterEach, describe, expect, it } from 'vitest';
import { scanTree } from '../../../core/tree/scan.js';
import { makeTree, type Fixture } from './fixture.js';

let fx: Fixture;
afterEach(() => fx?.cleanup());

describe('scanTree', () => {
  it('finds root, worlds and teams, sorted; ignores files, home/, skills/ and dot-folders', () => {
    fx = makeTree({
      'root/PERSONA.md': 'x',
      'acme/support/triage': null,
      'acme/sales': null,
      'acme/home/Not A Tenant': null,
      'acme/home/deep/x': null,
      'acme/skills/summarise/SKILL.md': 'x',
      'acme/.git/objects': null,
      'acme/notes.txt': 'x',
      'beta': null,
      'README.md': 'x',
      '.cache': null,
    });
    expect(scanTree(fx.dir)).toEqual({
      tenants: ['acme', 'acme/sales', 'acme/support', 'acme/support/triage', 'beta', 'root'],
      errors: [],
    });
  });

  it('never lists anything under home/ even when it is a symlink or has bad names', () => {
    fx = makeTree({ 'acme/home/UPPER': null });
    fx.symlink('/', 'acme/home/escape');
    expect(scanTree(fx.dir)).toEqual({ tenants: ['acme'], errors: [] });
  });

  const long = 'a'.repeat(65);
  it.each([
    ['uppercase', 'acme/Sales', 'acme', /lowercase letters/],
    ['space', 'acme/my team', 'acme', /lowercase letters/],
    ['dot inside', 'acme/v1.2', 'acme', /lowercase letters/],
    ['65 characters', `acme/${long}`, 'acme', /longer than 64/],
    ['top-level uppercase', 'Acme', '', /lowercase letters/],
    ['top-level reserved home', 'home', '', /reserved/],
    ['top-level reserved skills', 'skills', '', /reserved/],
    ['child of root', 'root/helper', 'root', /root has no child tenants/],
    ['leading "-" (reads as an option)', 'acme/-rf', 'acme', /may not start with "-"/],
    ['top-level leading "-"', '--help', '', /may not start with "-"/],
  ])('reports a bad folder: %s', (_label, rel, owner, message) => {
    fx = makeTree({ [rel]: null, 'acme/ok': null, root: null });
    const { tenants, errors } = scanTree(fx.dir);
    expect(tenants).toEqual(['acme', 'acme/ok', 'root']);
    expect(errors).toEqual([{ file: fx.at(rel), line: 0, message: expect.stringMatching(message), owner }]);
  });

  it('accepts exactly 64 characters, digits, "-" and "_"', () => {
    const name = 'a-b_9'.padEnd(64, 'x');
    fx = makeTree({ [`acme/${name}`]: null });
    expect(scanTree(fx.dir)).toEqual({ tenants: ['acme', `acme/${name}`], errors: [] });
  });

  it('never follows a symlinked tenant folder, and reports it', () => {
    fx = makeTree({ 'real/team': null, acme: null });
    fx.symlink(fx.at('real'), 'acme/linked');
    fx.symlink(fx.at('real'), 'Bad');
    const { tenants, errors } = scanTree(fx.dir);
    expect(tenants).toEqual(['acme', 'real', 'real/team']);
    expect(errors).toEqual([
      { file: fx.at('Bad'), line: 0, message: expect.stringMatching(/symlink/), owner: '' },
      { file: fx.at('acme/linked'), line: 0, message: expect.stringMatching(/symlink/), owner: 'acme/linked' },
    ]);
  });

  it('caps depth at 16 levels', () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => `l${i + 1}`).join('/');
    fx = makeTree({ [`${sixteen}/l17/l18`]: null });
    const { tenants, errors } = scanTree(fx.dir);
    expect(tenants).toHaveLength(16);
    expect(tenants).toContain(sixteen);
    expect(errors).toEqual([
      { file: fx.at(`${sixteen}/l17`), line: 0, message: expect.stringMatching(/deeper than 16/), owner: sixteen },
    ]);
  });

  it('scans one subtree, and nothing when it is gone or reached through a symlink', () => {
    fx = makeTree({ 'acme/support/triage': null, 'acme/sales': null, beta: null, 'real/x': null });
    expect(scanTree(fx.dir, 'acme/support').tenants).toEqual(['acme/support', 'acme/support/triage']);
    expect(scanTree(fx.dir, 'acme/gone')).toEqual({ tenants: [], errors: [] });
    fx.symlink(fx.at('real'), 'link');
    expect(scanTree(fx.dir, 'link/x')).toEqual({ tenants: [], errors: [] });
    expect(scanTree(fx.dir, 'link')).toEqual({
      tenants: [],
      errors: [{ file: fx.at('link'), line: 0, message: expect.stringMatching(/symlink/), owner: 'link' }],
    });
    expect(scanTree(fx.dir, 'root/x')).toEqual({ tenants: [], errors: [] });
    fx.mkdir('acme/grants/inner'); // acme's (broken) grants file, never a tenant, whichever way it is reached
    expect(scanTree(fx.dir, 'acme/grants')).toEqual({ tenants: [], errors: [] });
    expect(scanTree(fx.dir).tenants).not.toContain('acme/grants');
  });

  it('reports a missing tenants folder', () => {
    fx = makeTree();
    const missing = fx.at('nope');
    expect(scanTree(missing).errors).toEqual([{ file: missing, line: 0, message: 'tenants folder does not exist', owner: '' }]);
  });
});
