// The skills a turn's agent has: the tenant's own (skills/, mounted read-only) and warren's built-in ones (shipped in
// the runner folder; a tenant opts out with `builtin_skills: false` in PERSONA.md). They are listed in a <skills>
// block of the system prompt, with each SKILL.md's path, so the agent picks the right one without reading them all.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSkill } from '../../../core/tree/skill.js';
import { SKILL_FILE, SKILLS_DIR } from '../../../core/tree/layout.js';

/** Where Claude Code looks for skills under an --add-dir folder. */
export const CLAUDE_SKILLS = join('.claude', SKILLS_DIR);

export interface SurfacedSkill {
  name: string;
  description: string;
  always: string[];
  never: string[];
  /** Where the agent reads the whole SKILL.md inside the container. */
  file: string;
  builtin: boolean;
}

/**
 * The valid skills of a skills folder, sorted by name, and a line for each one left out. A missing folder is no
 * skills. Invalid skills are the operator's to fix (`warren tenants` names them with file:line); an agent never sees
 * half a skill.
 */
export function readSkillsFolder(dir: string, builtin: boolean): { skills: SurfacedSkill[]; problems: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { skills: [], problems: code === 'ENOENT' ? [] : [`cannot list ${dir}: ${code ?? (error as Error).message}`] };
  }
  const skills: SurfacedSkill[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const file = join(dir, name, SKILL_FILE);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      problems.push(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      continue;
    }
    const parsed = parseSkill(text, file, name);
    if (!parsed.skill) {
      problems.push(...parsed.errors.map((e) => `${e.file}:${e.line}: ${e.message}`));
      continue;
    }
    const { description, always, never } = parsed.skill;
    skills.push({ name, description, always, never, file, builtin });
  }
  return { skills, problems };
}

/** The tenant's skills, then the built-in ones it does not replace with a skill of the same name. */
export function mergeSkills(own: readonly SurfacedSkill[], builtin: readonly SurfacedSkill[]): SurfacedSkill[] {
  const names = new Set(own.map((s) => s.name));
  return [...own, ...builtin.filter((s) => !names.has(s.name))];
}

/** One line: a skill's text is the operator's, but a line break in it must not start a line of warren's block. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The <skills> block of the system prompt; empty when there are no skills. */
export function skillsBlock(skills: readonly SurfacedSkill[]): string {
  if (skills.length === 0) return '';
  const lines = [
    '<skills>',
    'Skills you have. Before work a skill describes, read its file; its ALWAYS and NEVER lines hold whenever it applies.',
  ];
  for (const s of skills) {
    lines.push(`<skill name="${s.name}" file="${s.file}"${s.builtin ? ' builtin="true"' : ''}>`);
    lines.push(oneLine(s.description));
    for (const a of s.always) lines.push(`ALWAYS: ${oneLine(a)}`);
    for (const n of s.never) lines.push(`NEVER: ${oneLine(n)}`);
    lines.push('</skill>');
  }
  lines.push('</skills>');
  return lines.join('\n');
}
