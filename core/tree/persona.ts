// PERSONA.md: who a tenant is. YAML front matter (validated here, unknown keys refused) plus a Markdown body that
// becomes the agent's standing instructions.
import { z } from 'zod';
import type { ConfigError } from '../config-error.js';
import { canonicalChat, chatIdProblem } from '../grants/canonical.js';
import { ancestorsOf, ROOT, type TenantPath } from '../tenant-path.js';
import { environmentSchema } from './environment.js';
import { lineOfKey, parseFrontmatter, zodIssuesToErrors } from './frontmatter.js';

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

/** A chat or sender id on a platform: `<prefix>:<id>`, held to the one chat-id rule, stored canonical (lowercase). */
const platformId = (what: string) =>
  z
    .string()
    .max(256)
    .superRefine((value, ctx) => {
      const problem = chatIdProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: `a ${what} id ${problem}` });
      else if (!/^[a-z][a-z0-9]*:./.test(canonicalChat(value)!)) {
        ctx.addIssue({ code: 'custom', message: `a ${what} id is "<platform>:<id>", like "tg:-1001234" or "local:ops"` });
      }
    })
    .transform((value) => canonicalChat(value)!);

export const MAX_PATTERN_LENGTH = 256;

/**
 * One chat wired to this tenant (docs/channels.md). Defaults: session `shared`, engage `mention`, unknown
 * `request-approval` (`public` for `local:` chats, which only the operator reaches), others `drop`.
 */
export const channelSchema = z
  .strictObject({
    chat: platformId('chat'),
    session: z.enum(['agent-shared', 'shared', 'per-thread']).optional(),
    engage: z.enum(['mention', 'mention-sticky', 'pattern', 'always']).optional(),
    pattern: z
      .string()
      .min(1)
      .max(MAX_PATTERN_LENGTH)
      .superRefine((value, ctx) => {
        try {
          new RegExp(value, 'u');
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: `not a regular expression: ${(error as Error).message}` });
        }
      })
      .optional(),
    senders: z.array(platformId('sender')).max(10_000).optional(),
    unknown: z.enum(['strict', 'request-approval', 'public']).optional(),
    others: z.enum(['drop', 'accumulate']).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.engage === 'pattern' && c.pattern === undefined) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'engage "pattern" needs a pattern' });
    }
    if (c.pattern !== undefined && c.engage !== 'pattern') {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'a pattern is used only with engage: pattern' });
    }
  });

export type ChannelWiring = z.infer<typeof channelSchema>;

export const channelsSchema = z.array(channelSchema).max(1000).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((c, i) => {
    if (seen.has(c.chat)) ctx.addIssue({ code: 'custom', path: [i, 'chat'], message: `${c.chat} is wired twice` });
    seen.add(c.chat);
  });
});

/**
 * One Swarm placement constraint (docs/scale-out.md): `<attribute>==<value>` or `!=`, on the attributes Swarm knows.
 * Held to a strict shape so a typo is an error, never a constraint that matches more nodes than meant (or none).
 */
const PLACEMENT_ATTRIBUTE = /^(?:node\.(?:id|hostname|role|platform\.os|platform\.arch)|(?:node|engine)\.labels\.[A-Za-z0-9](?:[A-Za-z0-9._-]{0,126}[A-Za-z0-9])?)$/;
const PLACEMENT_VALUE = /^[A-Za-z0-9](?:[A-Za-z0-9._:\/-]{0,126}[A-Za-z0-9])?$/;

/** Why a placement constraint is refused, or null. Canonical form: no spaces around the operator. */
export function placementProblem(constraint: string): string | null {
  const m = /^\s*([^\s=!]+)\s*(==|!=)\s*(\S+)\s*$/.exec(constraint);
  if (!m) return 'a placement constraint is "<attribute>==<value>" or "<attribute>!=<value>", like "node.labels.gpu==true"';
  const [, attribute, , value] = m as unknown as [string, string, string, string];
  if (!PLACEMENT_ATTRIBUTE.test(attribute)) {
    return `"${attribute}" is not a Swarm attribute: use node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<name> or engine.labels.<name>`;
  }
  if (!PLACEMENT_VALUE.test(value)) return `"${value}" is not a plain value (letters, digits and "._:/-")`;
  if (attribute === 'node.role' && value !== 'manager' && value !== 'worker') return 'node.role is "manager" or "worker"';
  return null;
}

/**
 * The constraints a tenant's runs are placed by: every ancestor's and its own, all of which must hold. An ancestor's
 * `placement:` narrows its whole subtree (as its deny rules do), so a group created below a world pinned to its own
 * nodes (create_group) never runs elsewhere for lack of a placement of its own. `placementOf` says a tenant's
 * constraints, 'broken' for a tenant whose files do not parse (its placement is unknown: this throws rather than
 * place anywhere), undefined for a path that is no tenant. PURE.
 */
export function subtreePlacement(tenant: TenantPath, placementOf: (path: TenantPath) => readonly string[] | 'broken' | undefined): string[] {
  const out: string[] = [];
  // Root's own placement is its agent's: root is above every world for grants, but holds no world's folder.
  for (const path of [...ancestorsOf(tenant).filter((a) => a !== ROOT).reverse(), tenant]) {
    const placement = placementOf(path);
    if (placement === 'broken') throw new Error(`${path} has no valid configuration, so the placement of ${tenant}'s runs is unknown`);
    out.push(...(placement ?? []));
  }
  return [...new Set(out)];
}

export const placementSchema = z
  .array(
    z
      .string()
      .max(300)
      .superRefine((value, ctx) => {
        const problem = placementProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .transform((value) => value.replace(/\s+/g, '')),
  )
  .max(32);

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
  /** Seconds a coordinator (always_on) waits at a turn boundary with nothing queued before it stops. */
  idle_timeout: z.number().int().positive().optional(),
  /** Extra mounts; the runner checks them against the operator's mount allowlist. */
  mounts: z.array(mountSchema).optional(),
  /** Chats wired to this tenant (gateway/channels/route-plan.ts decides what each message does). */
  channels: channelsSchema.optional(),
  /** true: the tenant's web/ is published on the web listener (docs/web.md). Off unless said. */
  web: z.boolean().optional(),
  /** Swarm placement constraints (WARREN_RUNTIME=swarm): the nodes this tenant's runs may go to, all must match. */
  placement: placementSchema.optional(),
});

export type PersonaFrontmatter = z.infer<typeof personaSchema>;

export interface Persona {
  frontmatter: PersonaFrontmatter;
  body: string;
  /** The PERSONA.md line of each `channels` entry, in order (what `warren routes` shows as its source). */
  channelLines?: number[];
}

const CHANNEL_KEYS = ['chat', 'session', 'engage', 'pattern', 'senders', 'unknown', 'others'];

/** Keys allowed at each object level, for "unknown key" hints. */
function allowedKeys(objectPath: readonly PropertyKey[]): readonly string[] | undefined {
  if (objectPath.length === 0) return Object.keys(personaSchema.shape);
  if (objectPath.length === 1 && objectPath[0] === 'limits') return Object.keys(limitsSchema.shape);
  if (objectPath.length === 2 && objectPath[0] === 'mounts') return Object.keys(mountSchema.shape);
  if (objectPath.length === 2 && objectPath[0] === 'channels') return CHANNEL_KEYS;
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
  const persona: Persona = { frontmatter: result.data, body: fm.body };
  if (result.data.channels) persona.channelLines = result.data.channels.map((_, i) => lineOfKey(fm.raw, ['channels', i]));
  return { persona, errors: [] };
}

/** The persona of a tenant folder without PERSONA.md. */
export function emptyPersona(): Persona {
  return { frontmatter: {}, body: '' };
}
