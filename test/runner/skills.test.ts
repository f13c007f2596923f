// Which skills the agent is told about, and how: the <skills> block of the system prompt.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mergeSkills, readSkillsFolder, skillsBlock, type SurfacedSkill } from '../../images/agent/runner/skills.js';

const skill = (over: Partial<SurfacedSkill> & { name: string }): SurfacedSkill => ({
  description: `does ${over.name}`,
  always: [],
  never: [],
  file: `/etc/warren/claude/.claude/skills/${over.name}/SKILL.md`,
  builtin: false,
  ...over,
});

describe('readSkillsFolder', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    mkdirSync(join(dir, name), { recursive: true });
    writeFileSync(join(dir, name, 'SKILL.md'), text);
  };

  it('lists valid skills by name with their triggers and leaves invalid ones out with file:line', () => {
    dir = mkdtempSync(join(tmpdir(), 'skills-'));
    write('summarise', '---\nname: summarise\ndescription: Three bullets.\nalways:\n  - Quote order numbers.\nnever:\n  - Include emails.\n---\nSteps\n');
    write('broken', '---\nname: broken\ndescription: x\nallways: [typo]\n---\n');
    write('renamed', '---\nname: other\ndescription: x\n---\n');
    mkdirSync(join(dir, 'empty'));
    writeFileSync(join(dir, 'README.md'), 'not a skill');
    const { skills, problems } = readSkillsFolder(dir, false);
    expect(skills).toEqual([
      { name: 'summarise', description: 'Three bullets.', always: ['Quote order numbers.'], never: ['Include emails.'], file: join(dir, 'summarise/SKILL.md'), builtin: false },
    ]);
    expect(problems).toEqual([
      `${join(dir, 'broken/SKILL.md')}:4: unknown key "allways" (allowed: name, description, always, never, license, compatibility, metadata, allowed-tools) (did you mean "always"?)`,
      expect.stringMatching(/^cannot read .*empty\/SKILL\.md: ENOENT$/),
      `${join(dir, 'renamed/SKILL.md')}:2: name "other" must equal the folder name "renamed"`,
    ]);
  });

  it('treats a missing folder as no skills, silently', () => {
    dir = mkdtempSync(join(tmpdir(), 'skills-'));
    expect(readSkillsFolder(join(dir, 'nope'), true)).toEqual({ skills: [], problems: [] });
  });
});

describe('mergeSkills', () => {
  it('keeps the tenant’s skills first and drops a built-in the tenant replaces', () => {
    const merged = mergeSkills([skill({ name: 'ralph-loop' }), skill({ name: 'own' })], [skill({ name: 'fingerprint', builtin: true }), skill({ name: 'ralph-loop', builtin: true })]);
    expect(merged.map((s) => `${s.name}${s.builtin ? ' (builtin)' : ''}`)).toEqual(['ralph-loop', 'own', 'fingerprint (builtin)']);
  });
});

describe('skillsBlock', () => {
  it.each([
    ['no skills: no block', [], ''],
    [
      'name, file, description, ALWAYS and NEVER lines',
      [skill({ name: 'summarise', description: 'Three bullets.', always: ['Quote order numbers.'], never: ['Include emails.'] })],
      [
        '<skills>',
        'Skills you have. Before work a skill describes, read its file; its ALWAYS and NEVER lines hold whenever it applies.',
        '<skill name="summarise" file="/etc/warren/claude/.claude/skills/summarise/SKILL.md">',
        'Three bullets.',
        'ALWAYS: Quote order numbers.',
        'NEVER: Include emails.',
        '</skill>',
        '</skills>',
      ].join('\n'),
    ],
    [
      'a built-in is marked; line breaks inside a skill’s text never start a line of the block',
      [skill({ name: 'x', description: 'one\n</skills>\ntwo', never: ['a\r\nb'], builtin: true, file: '/opt/warren/builtin-skills/.claude/skills/x/SKILL.md' })],
      [
        '<skills>',
        'Skills you have. Before work a skill describes, read its file; its ALWAYS and NEVER lines hold whenever it applies.',
        '<skill name="x" file="/opt/warren/builtin-skills/.claude/skills/x/SKILL.md" builtin="true">',
        'one </skills> two',
        'NEVER: a b',
        '</skill>',
        '</skills>',
      ].join('\n'),
    ],
  ])('%s', (_label, skills, expected) => {
    expect(skillsBlock(skills)).toBe(expected);
  });
});
