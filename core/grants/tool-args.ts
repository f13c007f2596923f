// The argument names of every tool gated serves, so the grants parser can refuse a rule naming a tool or argument
// that does not exist (a typo in a deny rule would otherwise deny nothing). test/gated/tools.test.ts pins this table
// to the tools' input schemas (and its tool names to ALL_TOOLS), so they cannot drift.
import { didYouMean } from '../suggest.js';
import { compileGlob, isLiteralGlob } from './glob.js';

export const TOOL_ARGS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['send_message', ['chat', 'text']],
  ['reply', ['text', 'reply_to']],
  ['like', ['message_id', 'reaction']],
  ['send_file', ['path', 'chat', 'caption']],
  ['delegate_group', ['group', 'prompt']],
  ['escalate_group', ['prompt']],
  ['observe_group', ['source']],
  ['unobserve_group', ['source']],
  ['read_observed', ['source', 'limit']],
  ['fork_topic', ['parent', 'child']],
  ['create_group', ['name', 'persona', 'description']],
  ['set_route', ['chat', 'group']],
  ['list_routes', []],
  ['issue_token', ['kind', 'target', 'ttl', 'hmac']],
  ['revoke_token', ['id']],
  ['list_tokens', []],
  ['grant', ['group', 'rule']],
  ['revoke', ['group', 'rule']],
  ['whoami', []],
  ['list_groups', []],
  ['set_vhost', ['host', 'group']],
  ['remove_vhost', ['host']],
  ['list_vhosts', []],
  ['spawn_worker', ['brief']],
  ['list_workers', []],
  ['cancel_worker', ['worker']],
]);


/**
 * Why a rule's tool glob or argument names cannot be meant, or null: a tool name that is no tool, a glob that
 * matches no tool, an argument the tool does not take (for a glob: that none of the matching tools takes).
 */
export function ruleNamesProblem(toolGlob: string, argNames: readonly string[]): string | null {
  if (isLiteralGlob(toolGlob)) {
    const args = TOOL_ARGS.get(toolGlob);
    if (!args) return `unknown tool "${toolGlob}"${didYouMean(toolGlob, TOOL_ARGS.keys()) || ` (tools: ${[...TOOL_ARGS.keys()].join(', ')})`}`;
    for (const name of argNames) {
      if (args.includes(name)) continue;
      if (args.length === 0) return `${toolGlob} takes no arguments, so "${name}" can never be given`;
      return `${toolGlob} has no argument "${name}"${didYouMean(name, args)} (its arguments: ${args.join(', ')})`;
    }
    return null;
  }
  const matches = compileGlob(toolGlob);
  const tools = [...TOOL_ARGS.keys()].filter((t) => matches(t));
  if (tools.length === 0) return `tool glob "${toolGlob}" matches no tool (tools: ${[...TOOL_ARGS.keys()].join(', ')})`;
  const args = [...new Set(tools.flatMap((t) => TOOL_ARGS.get(t)!))];
  for (const name of argNames) {
    if (args.includes(name)) continue;
    const which = `no tool matching "${toolGlob}" has an argument "${name}"${didYouMean(name, args)}`;
    return args.length === 0 ? `${which} (they take no arguments)` : `${which} (their arguments: ${args.join(', ')})`;
  }
  return null;
}
