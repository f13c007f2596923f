// The script harness's rules (PERSONA.md frontmatter `script:`), validated here with messages that name the rule and
// field at fault. Compiling turns them into ready regexes so that a bad pattern is found before any message is handled.
import { z } from 'zod';
import { describeIssues, pathText } from '../issues.js';
import { stringsIn, templateProblem } from './template.js';

export const MAX_RULES = 200;
/** Tool calls per turn, over all rules and messages: a runaway script stops here. */
export const MAX_CALLS_PER_TURN = 20;
export const MAX_PATTERN_CHARS = 4096;
export const MAX_TEMPLATE_CHARS = 64 * 1024;
/** A rule's `exec` command: at most this long, and stopped after EXEC_TIMEOUT_MS. */
export const MAX_EXEC_ARGS = 64;
export const EXEC_TIMEOUT_MS = 30_000;
/** Flags of every rule's regex: case-insensitive, and "." matches newlines too. */
export const MATCH_FLAGS = 'is';

const template = z
  .string()
  .max(MAX_TEMPLATE_CHARS)
  .superRefine((text, ctx) => {
    const problem = templateProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const callSchema = z
  .strictObject({
    tool: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a tool name like "delegate_group"'),
    args: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((call, ctx) => {
    for (const { path, text } of stringsIn(call.args ?? {}, ['args'])) {
      const problem = templateProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', path, message: problem });
    }
  });

/**
 * Simulated work, for demos and for exercising the operator's limits: hold the turn open for `hold_ms` and/or
 * allocate and touch `alloc_mb` of memory before replying.
 */
const workSchema = z.strictObject({
  hold_ms: z.number().int().min(0).max(3_600_000).optional(),
  alloc_mb: z.number().int().min(0).max(65_536).optional(),
});

const ruleSchema = z
  .strictObject({
    match: z.string().min(1).max(MAX_PATTERN_CHARS),
    reply: template.optional(),
    /** A command run in the home before the calls (argv, no shell); its stdout is {{result}}. */
    exec: z.array(template).min(1).max(MAX_EXEC_ARGS).optional(),
    calls: z.array(callSchema).min(1).max(MAX_CALLS_PER_TURN).optional(),
    work: workSchema.optional(),
  })
  .superRefine((rule, ctx) => {
    try {
      new RegExp(rule.match, MATCH_FLAGS);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['match'], message: `not a valid regular expression: ${(error as Error).message}` });
    }
    if (rule.reply === undefined && rule.calls === undefined && rule.work === undefined && rule.exec === undefined) {
      ctx.addIssue({ code: 'custom', message: 'a rule needs a "reply", "exec", "calls" or "work"' });
    }
  });

export const scriptSchema = z.array(ruleSchema).min(1).max(MAX_RULES);
export type ScriptRuleInput = z.input<typeof ruleSchema>;

export interface ScriptCall {
  tool: string;
  args: Record<string, unknown>;
}

export interface CompiledRule {
  /** Position in the script (0-based), for logs. */
  index: number;
  regex: RegExp;
  exec: readonly string[] | undefined;
  calls: readonly ScriptCall[];
  /** Without an explicit reply, a rule with calls answers with the last call's (or the command's) result. */
  reply: string;
  work: { hold_ms?: number; alloc_mb?: number } | undefined;
}

/** What runs when the persona has no `script:`: echo every message. */
export const DEFAULT_SCRIPT: readonly ScriptRuleInput[] = Object.freeze([{ match: '.*', reply: 'echo: $0' }]);

export type CompiledScript = { ok: true; rules: CompiledRule[] } | { ok: false; error: string };

export function compileScript(value: unknown): CompiledScript {
  if (value === undefined) value = DEFAULT_SCRIPT;
  if (!Array.isArray(value)) {
    return { ok: false, error: `invalid script: ${pathText('script', [])} must be a list of rules ("- match: ..."), not ${describe(value)}` };
  }
  const parsed = scriptSchema.safeParse(value);
  if (!parsed.success) return { ok: false, error: `invalid script: ${describeIssues(parsed.error.issues, 'script')}` };
  return {
    ok: true,
    rules: parsed.data.map((rule, index) => ({
      index,
      regex: new RegExp(rule.match, MATCH_FLAGS),
      exec: rule.exec,
      calls: (rule.calls ?? []).map((c) => ({ tool: c.tool, args: c.args ?? {} })),
      reply: rule.reply ?? '{{result}}',
      work: rule.work,
    })),
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null (is "script:" empty?)';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}
