// The bundled runner as the container runs it: a turn on stdin, a real gated run socket, real tool calls, and the
// report that arrives through warren/submit_turn.
import { describe, expect, it } from 'vitest';
import type { TurnInput, TurnResult } from '../../core/turn.js';
import type { TenantPath } from '../../core/tenant-path.js';
import { useGated } from '../helpers/gated.js';
import { errorsLogged, logRecords, message, runRunner, turnInput, type RunOutcome, useBuiltRunner } from './helpers.js';

describe('runner: script harness over a real gated', () => {
  let runs = 0;

  const f = useGated();
  const r = useBuiltRunner();

  /** Opens a run socket for the tenant, runs one turn through the bundle, and returns what gated received. */
  async function turn(
    input: TurnInput | string,
    options: { tenant?: TenantPath; env?: NodeJS.ProcessEnv } = {},
  ): Promise<{ out: RunOutcome; submitted: TurnResult[] }> {
    const tenant = options.tenant ?? (typeof input === 'string' ? 'acme' : (input.tenant as TenantPath));
    const submitted: TurnResult[] = [];
    runs += 1;
    const sock = await f.gated.openRunSocket(tenant, { id: `r${runs}`, topic: 'main', chat: 'local:ann', depth: 0 }, {
      onSubmit: (r) => submitted.push(r),
    });
    try {
      const text = typeof input === 'string' ? input : JSON.stringify(input);
      const out = await runRunner(r.runner.main, text, { env: { WARREN_GATED_SOCKET: sock.socketPath, ...options.env } });
      return { out, submitted };
    } finally {
      await sock.close();
    }
  }

  it('echoes with the default script when the persona has none, and exits 0 after the report', async () => {
    const { out, submitted } = await turn(turnInput({ messages: [message('hello there')] }));
    expect(out.code).toBe(0);
    expect(submitted).toEqual([{ status: 'ok', result: 'echo: hello there' }]);
    expect(out.stdout).toBe('');
    expect(logRecords(out.stderr).map((r) => r.msg)).toContain('turn reported');
  });

  it('answers each message with the first matching rule, $N groups, kinds and a no-match line', async () => {
    const script = [
      { match: '^echo (.*)$', reply: 'echo: $1 (from {{sender}} via {{kind}} in {{chat}}, $$5)' },
      { match: '^(\\w+) and (\\w+)$', reply: '$2+$1' },
      { match: '^done:', reply: 'noted result {{text}}' },
    ];
    const { out, submitted } = await turn(
      turnInput({
        script,
        messages: [
          message('ECHO hi'),
          message('salt and pepper', { id: 2 }),
          message('something else', { id: 3 }),
          message('done: 42', { id: 4, kind: 'result', sender: 'acme/support', chat: null }),
        ],
      }),
    );
    expect(out.code).toBe(0);
    expect(submitted).toEqual([
      {
        status: 'ok',
        result: [
          'echo: hi (from local:ann via chat in local:ann, $5)',
          'pepper+salt',
          '(no script rule matched: something else)',
          'noted result done: 42',
        ].join('\n'),
      },
    ]);
  });

  const ask = [{ match: '^ask (\\S+) (.*)$', calls: [{ tool: 'delegate_group', args: { group: '$1', prompt: '$2' } }], reply: 'asked $1 [{{error}}]: {{result}}' }];

  it('a calls rule makes a real delegate_group call as acme (tier 1: allowed)', async () => {
    const { out, submitted } = await turn(turnInput({ tenant: 'acme', script: ask, messages: [message('ask acme/support check the logs')] }));
    expect(out.code).toBe(0);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]!.status).toBe('ok');
    expect(submitted[0]!.result).toMatch(/^asked acme\/support \[\]: delegated to acme\/support as \S+; its result will arrive/);
  });

  it('the same rule as acme/support (tier 2) is denied by gated, and the denial is in the reply', async () => {
    const { out, submitted } = await turn(
      turnInput({ tenant: 'acme/support', script: ask, messages: [message('ask acme/support/triage look')] }),
    );
    expect(out.code).toBe(0);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]!.status).toBe('ok');
    expect(submitted[0]!.result).toMatch(/^asked acme\/support\/triage \[yes\]: denied: /);
    expect(submitted[0]!.result).toContain('delegate_group');
  });

  it('{{result}} is the last call of the rule, and substituted text is never expanded again', async () => {
    const script = [
      {
        match: '^who(.*)$',
        calls: [{ tool: 'whoami', args: {} }, { tool: 'no_such_tool', args: { x: '$1' } }, { tool: 'whoami', args: {} }],
        reply: 'I am {{result}} / err={{error}} / said "$1"',
      },
      { match: '^fail$', calls: [{ tool: 'no_such_tool' }], reply: 'err={{error}}: {{result}}' },
    ];
    const { out, submitted } = await turn(
      turnInput({ tenant: 'acme', script, messages: [message('who {{result}} $1'), message('fail', { id: 2 })] }),
    );
    expect(out.code).toBe(0);
    // whoami answers with JSON over several lines, so the two replies are told apart by their shape.
    const parts = /^I am (\{.*\}) \/ err= \/ said " \{\{result\}\} \$1"\nerr=yes: (.*)$/s.exec(submitted[0]!.result);
    expect(parts).not.toBeNull();
    expect(JSON.parse(parts![1]!)).toMatchObject({ tenant: 'acme', run: expect.any(String) });
    expect(parts![2]).toMatch(/no_such_tool/);
  });

  it('caps tool calls per turn: calls past the limit are skipped and say so', async () => {
    const script = [{ match: '.*', calls: Array.from({ length: 15 }, () => ({ tool: 'whoami' })), reply: '[{{error}}] {{result}}' }];
    const { out, submitted } = await turn(turnInput({ script, messages: [message('a'), message('b', { id: 2 })] }));
    expect(out.code).toBe(0);
    expect(submitted[0]!.result).toMatch(
      /^\[\] \{.*"tenant":"acme".*\}\n\[yes\] call to whoami skipped: the limit of 20 tool calls per turn was reached$/s,
    );
  });

  it('puts the turn env into the harness environment but never into stdout or stderr', async () => {
    const secret = 'sk-test-9f8e7d6c5b4a-very-secret';
    const script = [{ match: '.*', reply: 'len={{env.WARREN_TEST_TOKEN}} path-set={{env.PATH}}' }];
    const { out, submitted } = await turn(turnInput({ script, env: { WARREN_TEST_TOKEN: secret } }));
    expect(out.code).toBe(0);
    expect(submitted[0]!.result).toContain(`len=${secret}`);
    expect(submitted[0]!.result).not.toMatch(/path-set=$/); // the runner's own env is still there
    expect(logRecords(out.stderr).length).toBeGreaterThan(2); // logging was on
    expect(out.stdout + out.stderr).not.toContain(secret);
    expect(out.stdout + out.stderr).not.toContain('very-secret');
  });

  it('an invalid script is reported as status error naming the problem', async () => {
    const cases: [unknown, RegExp][] = [
      [[{ match: '(', reply: 'x' }], /script\[0\]\.match: not a valid regular expression/],
      [[{ match: '.*', reply: 'hi {{nope}}' }], /script\[0\]\.reply: unknown placeholder "\{\{nope\}\}"/],
      [[{ match: '.*', calls: [{ tool: 'whoami', args: { a: '{{bad}}' } }] }], /script\[0\]\.calls\[0\]\.args\.a: unknown placeholder/],
      [[{ match: '.*', reply: 'x', extra: 1 }], /script\[0\]/],
      [{ match: '.*' }, /script must be a list of rules/],
      [null, /script must be a list of rules.*null/],
    ];
    for (const [script, problem] of cases) {
      const { out, submitted } = await turn(turnInput({ script }));
      expect(out.code).toBe(0);
      expect(submitted).toHaveLength(1);
      expect(submitted[0]!.status).toBe('error');
      expect(submitted[0]!.result).toMatch(/^script harness: invalid script: /);
      expect(submitted[0]!.result).toMatch(problem);
    }
  });

  it('refuses a turn that is not JSON or not a TurnInput: exit 2 with a message, nothing submitted', async () => {
    const secret = 'hunter2-do-not-print';
    const cases: [string, RegExp][] = [
      ['', /no turn on stdin/],
      [`not json ${secret}`, /not valid JSON/],
      [JSON.stringify({ ...turnInput(), version: 99 }), /not a valid TurnInput: turn\.version/],
      [JSON.stringify({ ...turnInput(), messages: [] }), /turn\.messages/],
      [JSON.stringify({ ...turnInput(), env: { K: 5 } }), /turn\.env\.K/],
    ];
    for (const [input, problem] of cases) {
      const { out, submitted } = await turn(input);
      expect(out.code).toBe(2);
      expect(errorsLogged(out.stderr)).toMatch(problem);
      expect(out.stderr).not.toContain(secret);
      expect(submitted).toEqual([]);
    }
  });

  it('exits non-zero when the gated socket cannot be reached', async () => {
    const out = await runRunner(r.runner.main, JSON.stringify(turnInput()), {
      env: { WARREN_GATED_SOCKET: `${f.tree.root}/no-such-dir/gated.sock` },
    });
    expect(out.code).toBe(1);
    expect(errorsLogged(out.stderr)).toMatch(/cannot connect to the gated socket .*no-such-dir.*ENOENT/);
  });

  it('rejects an unknown mode with exit 2', async () => {
    const out = await runRunner(r.runner.main, '', { args: ['serve'] });
    expect(out.code).toBe(2);
    expect(errorsLogged(out.stderr)).toMatch(/unknown mode "serve"/);
  });

  it('a coordinator takes its turns one after another with warren/next_turn until told to stop, each call made as its own turn', async () => {
    const script = [{ match: '^say (.*)$', calls: [{ tool: 'reply', args: { text: 'early $1' } }], reply: 'said $1' }];
    const turns: TurnInput[] = [
      turnInput({ run: 'coord-t2', script, messages: [message('say two', { id: 2 })] }),
      turnInput({ run: 'coord-t3', script, messages: [message('say three', { id: 3 })] }),
    ];
    const submitted: TurnResult[] = [];
    let asked = 0;
    const sock = await f.gated.openRunSocket('acme', { id: 'coord-t1', topic: 'main', chat: 'local:ann', depth: 0 }, {
      onSubmit: (result) => submitted.push(result),
      onNextTurn: async () => {
        asked += 1;
        const next = turns.shift();
        if (!next) return { stop: true };
        // The boundary is explicit: the previous turn has been reported before the next one is asked for.
        expect(submitted).toHaveLength(asked);
        sock.beginTurn({ id: next.run, topic: 'main', chat: 'local:ann', depth: 0 });
        return { turn: next };
      },
    });
    try {
      const first = turnInput({ run: 'coord-t1', coordinator: true, script, messages: [message('say one')] });
      const out = await runRunner(r.runner.main, JSON.stringify(first), { env: { WARREN_GATED_SOCKET: sock.socketPath } });
      expect(errorsLogged(out.stderr)).toBe('');
      expect(out.code).toBe(0);
      expect(submitted.map((s) => s.result)).toEqual(['said one', 'said two', 'said three']);
      expect(asked).toBe(3);
      const rows = f.gated.db.prepare(`SELECT run, text FROM outbox WHERE run LIKE 'coord-%' ORDER BY id`).all();
      expect(rows).toEqual([
        { run: 'coord-t1', text: 'early one' },
        { run: 'coord-t2', text: 'early two' },
        { run: 'coord-t3', text: 'early three' },
      ]);
    } finally {
      await sock.close();
    }
  });

  it('a run that is not a coordinator never asks for another turn', async () => {
    let asked = 0;
    const submitted: TurnResult[] = [];
    const sock = await f.gated.openRunSocket('acme', { id: 'single-1', topic: 'main', chat: 'local:ann', depth: 0 }, {
      onSubmit: (result) => submitted.push(result),
      onNextTurn: async () => {
        asked += 1;
        return { stop: true };
      },
    });
    try {
      const out = await runRunner(r.runner.main, JSON.stringify(turnInput({ messages: [message('hi')] })), {
        env: { WARREN_GATED_SOCKET: sock.socketPath },
      });
      expect(out.code).toBe(0);
      expect(submitted).toHaveLength(1);
      expect(asked).toBe(0);
    } finally {
      await sock.close();
    }
  });
});
