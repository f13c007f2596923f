// PERSONA.md: who a tenant is. YAML front matter (validated here, unknown keys refused) plus a Markdown body that
// becomes the agent's standing instructions.
import { z } from 'zod';
import type { ConfigError } from '../config-error.js';
import { environmentSchema } from './environment.js';
import { parseFrontmatter, zodIssuesToErrors } from './frontmatter.js';

export const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

const positive = z.number().positive();
const positiveInt = z.number().int().positive();

export const limitsSchema = z.strictObject({
  memory_mb: positiveInt.optional(),
  cpus: positive.optional(),
  pids: positiveInt.optional(),
  timeout_s: positive.optional(),
});

export const mountSchema = z.strictObject({
  host: z.string().min(1),
  container: z.string().min(1),
  readonly: z.boolean().optional(),
});

export const personaSchema = z.strictObject({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  harness: z.enum(['script', 'claude-code', 'openai']).optional(),
  model: z.string().min(1).optional(),
  limits: limitsSchema.optional(),
  /** Secret NAMES: narrows which sealed secrets reach the agent. Never values. */
  env: z.array(z.string().regex(ENV_NAME, 'must be an environment variable name like "API_TOKEN"')).optional(),
  /** NON-secret variables NAME: value for the container (environment.ts); inherited down the tree. */
  environment: environmentSchema.optional(),
  /** Validated by the scripted harness, not here. */
  script: z.unknown().optional(),
  always_on: z.boolean().optional(),
  /** false: the agent gets none of warren's built-in skills (images/agent/skills/). */
  builtin_skills: z.boolean().optional(),
  /** Extra mounts; the runner checks them against the operator's mount allowlist. */
  mounts: z.array(mountSchema).optional(),
});

export type PersonaFrontmatter = z.infer<typeof personaSchema>;

export interface Persona {
  frontmatter: PersonaFrontmatter;
  body: string;
}

/** Keys allowed at each object level, for "unknown key" hints. */
function allowedKeys(objectPath: readonly PropertyKey[]): readonly string[] | undefined {
  if (objectPath.length === 0) return Object.keys(personaSchema.shape);
  if (objectPath.length === 1 && objectPath[0] === 'limits') return Object.keys(limitsSchema.shape);
  if (objectPath.length === 2 && objectPath[0] === 'mounts') return Object.keys(mountSchema.shape);
  return undefined;
}

/** Parses PERSONA.md text. `file` is used only for error locations. */
export function parsePersona(text: string, file: string): { persona: Persona | null; errors: ConfigError[] } {
  const { fm, errors } = parseFrontmatter(text, file);
  if (!fm) return { persona: null, errors };
  const result = personaSchema.safeParse(fm.data);
  if (!result.success) {
    return { persona: null, errors: zodIssuesToErrors(result.error.issues, file, fm.raw, allowedKeys) };
  }
  return { persona: { frontmatter: result.data, body: fm.body }, errors: [] };
}

/** The persona of a tenant folder without PERSONA.md. */
export function emptyPersona(): Persona {
  return { frontmatter: {}, body: '' };
}
