// One tool call, start to finish: find the tool, validate the arguments, decide the grant, apply the structural guard,
// run the handler, audit. Every path ends in exactly one audit row and a result the agent can read; nothing here
// throws to the protocol layer. The decision (everything before the handler) is decideCall, which `warren grants
// explain` runs too, so what explain says is what a call gets.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { decide, decideAsWorker } from '../core/grants/evaluate.js';
import { describeRule } from '../core/grants/describe.js';
import { redactDeep } from '../core/secrets/redact.js';
import { tierOf } from '../core/tenant-path.js';
import type { AuditDecision, AuditEntry, AuditLog, AuditOutcome } from './audit.js';
import type { TenantPolicy } from './policy.js';
import { TOOLS_BY_NAME } from './tools/index.js';
import { DeniedError, ToolError, type DenyMatch, type ToolContext, type ToolDef } from './tools/tool.js';

export interface CallEnv {
  audit: AuditLog;
  /** The caller's policy, or null when its tenant has no valid configuration. */
  policy: TenantPolicy | null;
  /** Everything a handler needs except what comes from the policy. */
  context: Omit<ToolContext, 'rules' | 'ruleDescriptions' | 'children' | 'refusedAs'>;
  /** Optional: replaces secret values in text returned to the agent (wired in by the secrets issue). */
  redact?: (text: string) => string;
  /** Optional: told of every call once it is audited (the gateway's live output of a run). */
  onCall?: (call: ToolCallEvent) => void;
}

/** A call as it is audited, without its arguments: what live output may show of it. */
export interface ToolCallEvent {
  tenant: string;
  run: string | null;
  tool: string;
  decision: AuditDecision;
  outcome: AuditOutcome;
  rule: string | null;
  durationUs: number;
}

/** What a decision needs: everything a call has but the audit log (explain writes nothing). */
export type DecisionEnv = Omit<CallEnv, 'audit'>;

/**
 * The structured result, led by what the text says happened (its first line) unless the text is only the data as
 * JSON. Clients that prefer structuredContent (Claude Code hands the model nothing else) then still read warren's
 * words: "queued reply 3 to tg:1", "delegated to acme/billing as dlg_…; its result will arrive in your inbox".
 */
export function structured(text: string, data: Record<string, unknown>): Record<string, unknown> {
  try {
    JSON.parse(text);
    return data;
  } catch {
    return { message: text.split('\n', 1)[0], ...data };
  }
}

function errorResult(text: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }] };
}

/** What an agent can do after a denial, by tier (a worker: hand it back to its coordinator). */
function nextStep(tenant: string, worker = false): string {
  if (worker) return 'You are a worker: say what should be done in your result, and your coordinator can do it.';
  const tier = tierOf(tenant);
  if (tier === 0) return 'Change tenants/root/grants if this is intended.';
  return 'If you need this, ask your parent group with escalate_group, explaining why.';
}

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`).join('; ');
}

/** What the decision pipeline concluded about one call, before any effect. */
export type CallDecision =
  | {
      allowed: false;
      /** How the call is audited. */
      decision: AuditDecision;
      outcome: AuditOutcome;
      rule: string | null;
      /** What the agent is told. */
      message: string;
      /** The stage that refused the call. */
      stage: 'unknown tool' | 'no configuration' | 'closed' | 'invalid arguments' | 'grant' | 'resolved arguments' | 'structural guard';
    }
  | {
      allowed: true;
      def: ToolDef;
      context: ToolContext;
      /** The arguments as the handler gets them (validated, redacted, resolved). */
      args: Record<string, unknown>;
      /** The deciding allow rule. */
      rule: string | null;
      reason: string;
    };

type Refusal = Extract<CallDecision, { allowed: false }>;
const refused = (stage: Refusal['stage'], decision: AuditDecision, rule: string | null, message: string): Refusal => ({
  allowed: false,
  decision,
  outcome: decision === 'deny' ? 'denied' : 'error',
  rule,
  message,
  stage,
});

/**
 * The decision a call gets: unknown tool, configuration, argument validation (zod), the grant decision, the tool's
 * resolve and the deny rules on the resolved arguments, and the structural guard. No effect: nothing is written.
 */
export function decideCall(env: DecisionEnv, name: string, rawArgs: unknown): CallDecision {
  const { tenant } = env.context;
  const def = TOOLS_BY_NAME.get(name);
  if (!def) {
    const names = env.policy?.tools.map((t) => t.name).join(', ') || 'none';
    return refused('unknown tool', 'unknown', null, `unknown tool "${name}". Tools you may call: ${names}.`);
  }
  if (!env.policy) {
    return refused('no configuration', 'deny', null, `denied: your tenant ${tenant} has no valid configuration; an operator must fix its files.`);
  }
  if (env.policy.closedBecause) return refused('closed', 'deny', null, `denied: ${env.policy.closedBecause}.`);

  const parsed = def.input.safeParse(rawArgs ?? {});
  if (!parsed.success) {
    return refused('invalid arguments', 'invalid', null, `invalid arguments for ${name}: ${formatIssues(parsed.error)}`);
  }
  // Secret values never travel further than this: what tools store or pass on carries their names instead.
  const given = env.redact ? redactDeep(parsed.data as Record<string, unknown>, env.redact) : (parsed.data as Record<string, unknown>);
  const store = env.context.store;
  const routes = { isRoutedChat: (chat: string) => store.isRoutedTo(chat, tenant) };
  const { compiled, worker } = env.policy;
  const decideOn = (a: Record<string, unknown>) =>
    worker ? decideAsWorker(compiled, worker, name, a, routes) : decide(compiled, name, a, routes);
  const next = nextStep(tenant, worker !== null);
  const decision = decideOn(given);
  const ruleText = decision.rule ? describeRule(decision.rule) : null;
  if (!decision.allowed) return refused('grant', 'deny', ruleText, `denied: ${decision.reason}. ${next}`);

  const { rules, ruleDescriptions, children } = env.policy;
  /** A deny rule that matches the call as it will really be carried out, or null. */
  const deniedBy = (effective: Record<string, unknown>): DenyMatch | null => {
    const d = decideOn(effective);
    return !d.allowed && d.rule?.effect === 'deny' ? { rule: describeRule(d.rule), reason: d.reason } : null;
  };
  let args = given;
  /**
   * Why the call would be refused once the tool has resolved some arguments (`changes`): the full decision on the
   * call as given with those changes, and the deny rules on the call as carried out with them. Null when allowed.
   */
  const refusedAs = (changes: Record<string, unknown>): DenyMatch | null => {
    const d = decideOn({ ...given, ...changes });
    if (!d.allowed) return { rule: d.rule ? describeRule(d.rule) : 'no matching allow rule', reason: d.reason };
    return args === given ? null : deniedBy({ ...args, ...changes });
  };
  const context: ToolContext = { ...env.context, rules, ruleDescriptions, children, refusedAs };
  // Arguments a tool fills in itself (e.g. send_file's chat defaults to the conversation) are decided on too.
  if (def.resolve) args = def.resolve(context, given);
  const hidden = args !== given ? deniedBy(args) : null;
  if (hidden) {
    return refused('resolved arguments', 'deny', hidden.rule, `denied: ${hidden.reason} (as the call would be carried out). ${next}`);
  }
  const refusal = def.guard?.(context, args);
  if (refusal) return refused('structural guard', 'deny', `structural guard of ${name}`, `denied: ${refusal}.`);
  return { allowed: true, def, context, args, rule: ruleText, reason: decision.reason };
}

export async function callTool(env: CallEnv, name: string, rawArgs: unknown): Promise<CallToolResult> {
  let entry: AuditEntry | null = null;
  const result = await decideAndRun(env, name, rawArgs, (decided) => (entry = decided));
  if (entry) {
    const e: AuditEntry = entry;
    // A refused call's row says why, in the words the agent got.
    if (e.decision !== 'allow') e.reason = result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ');
    await env.audit.record(e); // the audit row is committed before the result leaves
    const call: ToolCallEvent = { tenant: e.tenant, run: e.run, tool: e.tool, decision: e.decision, outcome: e.outcome, rule: e.rule, durationUs: e.durationUs };
    try {
      env.onCall?.(call); // what live output may show of the call: never its arguments
    } catch (error) {
      env.context.log.error({ err: error, tool: name }, 'call listener failed'); // a listener never changes the call
    }
  }
  return result;
}

async function decideAndRun(
  env: CallEnv,
  name: string,
  rawArgs: unknown,
  track: (entry: AuditEntry) => void,
): Promise<CallToolResult> {
  const started = performance.now();
  const { tenant } = env.context;
  const audit = (decision: AuditDecision, outcome: AuditOutcome, rule: string | null) =>
    track({
      tenant,
      run: env.context.run?.id ?? null,
      tool: name,
      decision,
      rule,
      durationUs: (performance.now() - started) * 1000,
      outcome,
      args: rawArgs ?? {},
    });

  const call = decideCall(env, name, rawArgs);
  if (!call.allowed) {
    audit(call.decision, call.outcome, call.rule);
    return errorResult(call.message);
  }
  const { def, context, args, rule: ruleText } = call;

  try {
    const result = await def.handler(context, args);
    audit('allow', 'ok', ruleText);
    const text = env.redact ? env.redact(result.text) : result.text;
    const data = result.data && env.redact ? redactDeep(result.data, env.redact) : result.data;
    return data ? { content: [{ type: 'text', text }], structuredContent: structured(text, data) } : { content: [{ type: 'text', text }] };
  } catch (error) {
    if (error instanceof DeniedError) {
      audit('deny', 'denied', error.rule);
      return errorResult(`denied: ${error.message}. ${nextStep(tenant, env.policy?.worker != null)}`);
    }
    audit('allow', 'error', ruleText);
    if (error instanceof ToolError) return errorResult(`${name} failed: ${env.redact ? env.redact(error.message) : error.message}`);
    const incident = randomUUID().slice(0, 8);
    env.context.log.error({ err: error, tool: name, incident }, 'tool handler failed'); // the log already names the tenant
    return errorResult(`${name} failed with an internal error; the operator can find it in gated's log as incident ${incident}.`);
  }
}
