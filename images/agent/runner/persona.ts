// The tenant's PERSONA.md, mounted read-only in the container (it may be absent). The claude-code harness appends its
// Markdown body to the system prompt; the front matter was already applied by the gateway (harness, model, script).
import { readFileSync } from 'node:fs';
import { CONTAINER_PATHS } from '../../../core/container.js';
import { parseFrontmatter } from '../../../core/tree/frontmatter.js';

export function personaFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.WARREN_PERSONA_FILE || CONTAINER_PATHS.persona;
}

/** The body, and whether the tenant keeps warren's built-in skills (`builtin_skills: false` opts out). */
export type PersonaBody = { body: string; builtinSkills: boolean; problem?: string };

/** The body of PERSONA.md text: everything after the front matter, trimmed. */
export function personaBodyOf(text: string, file: string): PersonaBody {
  const { fm, errors } = parseFrontmatter(text, file);
  if (!fm) return { body: '', builtinSkills: true, problem: errors.map((e) => e.message).join('; ') || 'unreadable front matter' };
  return { body: fm.body.trim(), builtinSkills: (fm.data as Record<string, unknown>).builtin_skills !== false };
}

/** Reads the persona; absent is normal (no body), unreadable or malformed is reported as a problem to log. */
export function readPersonaBody(file: string): PersonaBody {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { body: '', builtinSkills: true };
    return { body: '', builtinSkills: true, problem: `cannot read ${file}: ${code ?? (error as Error).message}` };
  }
  return personaBodyOf(text, file);
}
