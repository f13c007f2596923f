// The session id an agent reports with warren/submit_turn ends up on the next turn's claude command line. Claude
// Code's `--resume [value]` takes an optional value, so an id starting with "-" would be parsed as a flag of its own
// (e.g. `--tools=WebSearch,WebFetch`, which the runner removes on purpose). gated refuses such ids, and the runner
// passes values in `--flag=value` form anyway.
import { describe, expect, it } from 'vitest';
import { useGated } from '../helpers/gated.js';
import { frame, initialised } from '../helpers/raw-socket.js';
import { SUBMIT_TURN_METHOD, type TurnResult } from '../../core/turn.js';
import { buildClaudeInvocation, type ClaudePaths } from '../../images/agent/runner/claude/invocation.js';
import { message, turnInput } from '../runner/helpers.js';

const g = useGated();
const paths: ClaudePaths = { node: '/usr/local/bin/node', runner: '/opt/warren/runner/main.js', socket: '/run/gated/gated.sock', mcpConfigFile: '/tmp/w/mcp.json' };
const HOSTILE = '--tools=WebSearch,WebFetch';

describe('session id from submit_turn -> next turn claude argv', () => {
  it('gated refuses (or the invocation neutralises) a session that would parse as a claude flag', async () => {
    const submitted: TurnResult[] = [];
    const sock = await g.gated.openRunSocket('acme', { id: 'r2-resume', topic: 'main', chat: null, depth: 0 }, {
      onSubmit: (r) => submitted.push(r),
    });
    try {
      const c = await initialised(sock.socketPath);
      c.socket.write(frame({ jsonrpc: '2.0', id: 7, method: SUBMIT_TURN_METHOD, params: { status: 'ok', result: 'done', session: HOSTILE } }));
      const reply = await c.response(7);
      c.close();
      // What the gateway stores as the topic's session and hands to the next turn (turns.ts turnInput).
      const stored = reply.error ? null : submitted[0]?.session ?? null;
      const inv = buildClaudeInvocation(turnInput({ harness: 'claude-code', session: stored, messages: [message('hi')] }), '', paths);
      const i = inv.args.indexOf('--resume');
      const resumeValue = i < 0 ? undefined : inv.args[i + 1];
      // Safe outcomes: no --resume at all (session refused), or a value that cannot be read as an option.
      if (resumeValue !== undefined) expect(resumeValue.startsWith('-')).toBe(false);
    } finally {
      await sock.close();
    }
  });
});
