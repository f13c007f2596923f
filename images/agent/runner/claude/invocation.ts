// How the claude-code harness runs Claude Code: a pure function from the turn to the exact command line, environment
// and MCP config, so tests can pin them. Pinned against Claude Code 2.1.x (images/claude-code.ts); see docs/runner.md.
//
// - `-p <prompt>` first: several options (--mcp-config, --tools, --allowedTools) take a variable number of values
//   and would swallow a prompt placed after them.
// - `--strict-mcp-config` with one server, `warren`: the agent cannot bring MCP servers of its own (project or user
//   settings), so gated is the only way out.
// - `--tools` replaces the built-in tool set (--allowedTools alone only pre-approves, it does not remove): no
//   WebSearch (it runs on Anthropic's side, outside the egress allowlist), no WebFetch, no sub-agents.
// - `--allowedTools` pre-approves exactly that set plus every warren tool: print mode cannot ask a human, and gated,
//   not a prompt, is what decides a tool call.
import { SESSION_ID, type TurnInput } from '../../../../core/turn.js';
import { buildPrompt } from './prompt.js';

export const CLAUDE_COMMAND = 'claude';
export const MCP_SERVER_NAME = 'warren';
/**
 * The built-in tools a sandboxed agent keeps: its files and a shell inside its own container, and Skill, which loads
 * a SKILL.md of the skills Claude Code found under --add-dir (the same ones as the <skills> block). Only names the
 * pinned version really offers (the end-to-end suite reads the request's `tools`): 2.1.x has no TodoWrite.
 */
export const CLAUDE_BUILTIN_TOOLS = Object.freeze(['Bash', 'Read', 'Write', 'Edit', 'Glob', 'Grep', 'Skill']);
/** Set last so neither the image nor a turn's env can turn them off. */
export const CLAUDE_FIXED_ENV = Object.freeze({
  // No auto-update, telemetry or error reporting: egress is default-deny, these would only fail or wait.
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  // Every tool is offered up front with its schema, rather than behind a tool-search placeholder: the model sees
  // exactly the tenant's warren tools and the kept built-ins.
  ENABLE_TOOL_SEARCH: 'false',
});

export interface ClaudePaths {
  /** The node binary that runs the bridge (process.execPath in the container). */
  node: string;
  /** This bundle (the runner's main.js); `<node> <runner> bridge` is the MCP server. */
  runner: string;
  /** The gated socket the bridge connects to. */
  socket: string;
  /** Where the MCP config is written (tmpfs). */
  mcpConfigFile: string;
}

export interface McpConfig {
  mcpServers: Record<string, { type: 'stdio'; command: string; args: string[]; env: Record<string, string> }>;
}

export interface ClaudeInvocation {
  command: string;
  args: string[];
  env: Record<string, string>;
  mcpConfig: McpConfig;
}

export function buildClaudeInvocation(
  turn: TurnInput,
  personaBody: string,
  paths: ClaudePaths,
  baseEnv: Readonly<Record<string, string | undefined>> = {},
  addDirs: readonly string[] = [],
): ClaudeInvocation {
  const mcpConfig: McpConfig = {
    mcpServers: {
      [MCP_SERVER_NAME]: {
        type: 'stdio',
        command: paths.node,
        args: [paths.runner, 'bridge'],
        // The socket path only: never a secret in this file.
        env: { WARREN_GATED_SOCKET: paths.socket },
      },
    },
  };
  const args = [
    '-p',
    buildPrompt(turn),
    '--output-format',
    'stream-json',
    '--verbose',
    '--mcp-config',
    paths.mcpConfigFile,
    '--strict-mcp-config',
    '--tools',
    CLAUDE_BUILTIN_TOOLS.join(','),
    '--allowedTools',
    [...CLAUDE_BUILTIN_TOOLS, `mcp__${MCP_SERVER_NAME}`].join(','),
  ];
  const body = personaBody.trim();
  // "--flag=value" forms: a value can never be read as a flag of its own, whatever it starts with.
  if (body !== '') args.push(`--append-system-prompt=${body}`);
  // Claude Code loads the skills under <dir>/.claude/skills of each added folder (2.1.32 and later).
  for (const dir of addDirs) args.push(`--add-dir=${dir}`);
  if (turn.session) {
    if (!SESSION_ID.test(turn.session)) throw new Error(`refusing to resume a session with an unexpected id`);
    args.push(`--resume=${turn.session}`);
    // A forked topic's first turn: a new session id from that state, so the parent's session is left as it was.
    if (turn.forkSession) args.push('--fork-session');
  }
  if (turn.model) args.push(`--model=${turn.model}`);

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(baseEnv)) if (v !== undefined) env[k] = v;
  Object.assign(env, turn.env, CLAUDE_FIXED_ENV);
  return { command: CLAUDE_COMMAND, args, env, mcpConfig };
}
