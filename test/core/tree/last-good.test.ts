import { describe, expect, it } from 'vitest';
import { assembleConfig, changedFiles, mergeLastGood, type FileOutcome, type FileValue } from '../../../core/tree/last-good.js';

const grants = (text: string): FileValue => ({
  kind: 'grant-rules',
  rules: [{ text, effect: 'deny', tool: text.slice(1), args: [], source: { kind: 'tier-default', tier: 1 } }],
});
const skill = (name: string, description: string): FileValue => ({
  kind: 'skill',
  skill: { name, description, always: [], never: [], file: `/t/acme/skills/${name}/SKILL.md` },
});
const ok = (key: string, value: FileValue): FileOutcome => ({ key, ok: true, value });
const bad = (key: string): FileOutcome => ({ key, ok: false, errors: [{ file: `/t/acme/${key}`, line: 1, message: 'broken' }] });

describe('mergeLastGood', () => {
  const before = new Map<string, FileValue>([
    ['grants', grants('!like')],
    ['skills', { kind: 'skills-folder' }],
    ['skills/sum/SKILL.md', skill('sum', 'Sums.')],
  ]);

  // [case, outcomes now, keys that count afterwards, broken keys with kept?, usable]
  const cases: [string, FileOutcome[], Record<string, FileValue>, [string, boolean][], boolean][] = [
    [
      'everything parses: the current contents count',
      [ok('grants', grants('!reply')), ok('skills', { kind: 'skills-folder' })],
      { grants: grants('!reply'), skills: { kind: 'skills-folder' } },
      [],
      true,
    ],
    [
      'a broken file that parsed before keeps its last good contents',
      [bad('grants'), ok('skills', { kind: 'skills-folder' }), ok('skills/sum/SKILL.md', skill('sum', 'New.'))],
      { grants: grants('!like'), skills: { kind: 'skills-folder' }, 'skills/sum/SKILL.md': skill('sum', 'New.') },
      [['grants', true]],
      true,
    ],
    [
      'a present file that never parsed makes the tenant unusable',
      [ok('grants', grants('!like')), bad('allowlist')],
      { grants: grants('!like') },
      [['allowlist', false]],
      false,
    ],
    ['a missing file has no contents (its last good contents are forgotten)', [], {}, [], true],
    [
      'an unreadable folder keeps the last good contents of the files inside it',
      [ok('grants', grants('!like')), bad('skills')],
      { grants: grants('!like'), skills: { kind: 'skills-folder' }, 'skills/sum/SKILL.md': skill('sum', 'Sums.') },
      [['skills', true]],
      true,
    ],
  ];
  it.each(cases)('%s', (_label, outcomes, good, broken, usable) => {
    const merged = mergeLastGood(before, outcomes);
    expect(Object.fromEntries(merged.good)).toEqual(good);
    expect(merged.broken.map((b) => [b.key, b.kept])).toEqual(broken);
    expect(merged.usable).toBe(usable);
  });

  it('an unreadable folder that was never readable before makes the tenant unusable', () => {
    expect(mergeLastGood(new Map(), [bad('skills')]).usable).toBe(false);
  });
});

describe('assembleConfig and changedFiles', () => {
  it('files without contents get their defaults; skills come in folder order', () => {
    const good = new Map<string, FileValue>([
      ['skills/zeta/SKILL.md', skill('zeta', 'Z.')],
      ['skills/alpha/SKILL.md', skill('alpha', 'A.')],
    ]);
    const config = assembleConfig({ tenant: 'acme/support', dir: '/t/acme/support' }, good);
    expect(config).toMatchObject({ path: 'acme/support', tier: 2, persona: { frontmatter: {}, body: '' }, grants: [], allowlist: [] });
    expect(config.skills.map((s) => s.name)).toEqual(['alpha', 'zeta']);
  });

  it('names the files whose counting contents were added, removed or changed', () => {
    const a = new Map<string, FileValue>([['grants', grants('!like')], ['skills/sum/SKILL.md', skill('sum', 'S.')]]);
    const b = new Map<string, FileValue>([['grants', grants('!reply')], ['PERSONA.md', { kind: 'persona', persona: { frontmatter: {}, body: 'x' } }]]);
    expect(changedFiles(a, b)).toEqual(['PERSONA.md', 'grants', 'skills/sum/SKILL.md']);
    expect(changedFiles(a, new Map(a))).toEqual([]);
  });
});
