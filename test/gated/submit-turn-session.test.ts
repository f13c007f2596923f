// The session id an agent reports with warren/submit_turn ends up on the next turn's claude command line. Claude
// Code's `--resume [value]` takes an optional value, so an id starting with "-" would be parsed as a flag of its own
// (e.g. `--tools=WebSearch,WebFetch`, which the runner removes on purpose). gated refuses such ids, and the runner
// refuses to resume one anyway and passes values in `--flag=value` form.
import { describe, expect, it } from 'vitest';
import { useGated } from '../helpers/gated.js';
import { frame, initialised } from '../helpers/raw-socket.js';
import { SUBMIT_TURN_METHOD, type TurnResult } from '../../core/turn.js';
import { buildClaudeInvocation, type ClaudePaths } from '../../images/agent/runner/claude/invocation.js';
import { message, turnInput } from '../runner/helpers.js';

const g = useGated();
const paths: ClaudePaths = { node: '/usr/local/bin/node', runner: '/opt/warren/runner/main.js', socket: '/run/gated/gated.sock', mcpConfigFile: '/tmp/w/mcp.json' };
const HOSTILE = '--tools=WebSearch,WebFetch';

/** Submits a turn result with `session` on a fresh run socket; returns gated's reply and what reached the gateway. */
async function submit(run: string, session: string): Promise<{ reply: any; submitted: TurnResult[] }> {
  const submitted: TurnResult[] = [];
  const sock = await g.gated.openRunSocket('acme', { id: run, topic: 'main', chat: null, depth: 0 }, {
    onSubmit: (r) => submitted.push(r),
  });
  try {
    const c = await initialised(sock.socketPath);
    c.socket.write(frame({ jsonrpc: '2.0', id: 7, method: SUBMIT_TURN_METHOD, params: { status: 'ok', result: 'done', session } }));
    const reply = await c.response(7);
    c.close();
    return { reply, submitted };
  } finally {
    await sock.close();
  }
}

describe('session id from submit_turn -> next turn claude argv', () => {
  it('gated refuses a session that would parse as a claude flag, so the gateway never stores it', async () => {
    const { reply, submitted } = await submit('r2-resume', HOSTILE);
    expect(reply.error?.message).toMatch(/session/);
    expect(submitted).toEqual([]);
  });

  it('a well-formed session reaches the gateway and the next turn resumes it as one --resume=<id> argument', async () => {
    const { reply, submitted } = await submit('r3-resume', 'sess-0b1c');
    expect(reply.error).toBeUndefined();
    expect(submitted.map((r) => r.session)).toEqual(['sess-0b1c']);
    const inv = buildClaudeInvocation(turnInput({ harness: 'claude-code', session: submitted[0]!.session!, messages: [message('hi')] }), '', paths);
    expect(inv.args).toContain('--resume=sess-0b1c');
    expect(inv.args).not.toContain('--resume');
  });

  it('should such a session reach the runner all the same, it refuses to resume it', () => {
    expect(() => buildClaudeInvocation(turnInput({ harness: 'claude-code', session: HOSTILE, messages: [message('hi')] }), '', paths)).toThrow(/session/);
  });
});
