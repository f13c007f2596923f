// PERSONA.md `environment:`: NON-secret variables set in a tenant's containers (an API base URL, a CA file, a model
// endpoint). Distinct from `env:`, which lists secret NAMES and narrows which sealed secrets reach the agent. A
// tenant inherits its ancestors' environment; its own value for a name wins over an ancestor's.
import { z } from 'zod';

export const ENVIRONMENT_NAME = /^[A-Z_][A-Z0-9_]*$/;
export const MAX_ENVIRONMENT_VALUE = 4096;
export const MAX_ENVIRONMENT_ENTRIES = 64;

/**
 * Variables warren sets itself in every container (identity, egress proxy, the runner's own paths and the harnesses'
 * fixed switches). A PERSONA.md can never set them: a tenant must not redirect its own egress or pose as another.
 */
export const FIXED_ENVIRONMENT = Object.freeze([
  'WARREN_TENANT',
  'WARREN_TIER',
  'WARREN_RUN',
  'WARREN_GATED_SOCKET',
  'WARREN_PERSONA_FILE',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'HOME',
  'PATH',
  'USER',
  'SHELL',
  'NODE_OPTIONS',
  'CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC',
  'ENABLE_TOOL_SEARCH',
] as const);
/** Whole families that are warren's (WARREN_*) or change how every program in the container loads (LD_*). */
const FIXED_PREFIXES = ['WARREN_', 'LD_'] as const;

/** Names that hold secrets by convention: those go through sealed secrets (`env:`), never through the environment. */
export const SECRET_LIKE_NAME = /(^|_)(SECRETS?|TOKENS?|PASSWORD|PASSWD|PASS|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH|COOKIE)(_|$)/i;

/** Why `name` may not be set through `environment:`, or null. */
export function environmentNameProblem(name: string): string | null {
  if (!ENVIRONMENT_NAME.test(name)) return 'must be an upper-case variable name like "API_BASE_URL"';
  if ((FIXED_ENVIRONMENT as readonly string[]).includes(name) || FIXED_PREFIXES.some((p) => name.startsWith(p))) {
    return `${name} is set by warren itself and cannot be overridden (fixed: ${FIXED_ENVIRONMENT.join(', ')}, ${FIXED_PREFIXES.map((p) => `${p}*`).join(', ')})`;
  }
  if (SECRET_LIKE_NAME.test(name)) return `${name} looks like a secret: seal it with \`warren secrets\` and list it under env: instead`;
  return null;
}

const environmentValue = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => String(v))
  .refine((v) => v.length <= MAX_ENVIRONMENT_VALUE, `a value is at most ${MAX_ENVIRONMENT_VALUE} characters`)
  .refine((v) => !v.includes('\0'), 'a value cannot contain NUL');

export const environmentSchema = z
  .record(z.string(), environmentValue)
  .superRefine((map, ctx) => {
    const names = Object.keys(map);
    if (names.length > MAX_ENVIRONMENT_ENTRIES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_ENVIRONMENT_ENTRIES} variables` });
    for (const name of names) {
      const problem = environmentNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  });

/**
 * The environment a tenant's containers get: ancestors' maps, farthest first, then the tenant's own, so the nearest
 * value for a name wins. `ancestors` is nearest first, as the registry lists them.
 */
export function effectiveEnvironment(
  own: Readonly<Record<string, string>> | undefined,
  ancestors: readonly (Readonly<Record<string, string>> | undefined)[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const map of [...ancestors].reverse()) Object.assign(out, map);
  Object.assign(out, own);
  return out;
}
