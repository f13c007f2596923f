// skills/<name>/SKILL.md: a named capability description the harness offers the agent. Front matter carries the
// name (must equal the folder), a required description and optional `always:` / `never:` lists.
import { z } from 'zod';
import type { ConfigError } from '../config-error.js';
import { lineOfKey, parseFrontmatter, zodIssuesToErrors } from './frontmatter.js';

export const skillSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().trim().min(1, 'a skill needs a description'),
  always: z.array(z.string()).optional(),
  never: z.array(z.string()).optional(),
  // Standard Agent Skills keys, accepted so published skills can be dropped in unchanged; warren does not use them.
  license: z.string().optional(),
  compatibility: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  'allowed-tools': z.string().optional(),
});

export type SkillFrontmatter = z.infer<typeof skillSchema>;

/** A parsed skill. Here rather than in types.ts so the in-container runner can parse skills without the rest. */
export interface Skill {
  name: string;
  description: string;
  /** ALWAYS triggers: what the agent does whenever the skill applies. */
  always: string[];
  /** NEVER triggers: what the agent never does when it applies. */
  never: string[];
  /** Absolute path of SKILL.md. */
  file: string;
}

/** Parses one SKILL.md. `folderName` is the skill folder; `file` the absolute SKILL.md path. */
export function parseSkill(text: string, file: string, folderName: string): { skill: Skill | null; errors: ConfigError[] } {
  const { fm, errors } = parseFrontmatter(text, file);
  if (!fm) return { skill: null, errors };
  const result = skillSchema.safeParse(fm.data);
  if (!result.success) {
    const allowed = (p: readonly PropertyKey[]) => (p.length === 0 ? Object.keys(skillSchema.shape) : undefined);
    return { skill: null, errors: zodIssuesToErrors(result.error.issues, file, fm.raw, allowed) };
  }
  const data = result.data;
  if (data.name !== folderName) {
    return {
      skill: null,
      errors: [{ file, line: lineOfKey(fm.raw, ['name']), message: `name "${data.name}" must equal the folder name "${folderName}"` }],
    };
  }
  return {
    skill: { name: data.name, description: data.description, always: data.always ?? [], never: data.never ?? [], file },
    errors: [],
  };
}
