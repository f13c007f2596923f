// The claude-code harness end to end, with a stand-in `claude` on PATH (fake-claude.ts): the invocation the bundle
// builds, the MCP bridge it configures reaching a real gated, the secrets it passes, and the report it makes.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import type { TurnInput, TurnResult } from '../../core/turn.js';
import { Gated } from '../../gated/broker.js';
import { standardTree, type TempTree } from '../helpers/tree.js';
import { installFakeClaude } from './fake-claude.js';
import { buildRunner, logRecords, message, runRunner, turnInput, type BuiltRunner, type RunOutcome } from './helpers.js';

describe('runner: claude-code harness', () => {
  let tree: TempTree;
  let gated: Gated;
  let runner: BuiltRunner;
  let fakeBin: string;
  let tmp: string;
  let persona: string;
  let runs = 0;

  beforeAll(async () => {
    runner = buildRunner();
    tree = standardTree();
    fakeBin = installFakeClaude(join(tree.root, 'bin'));
    tmp = join(tree.root, 'tmp');
    mkdirSync(tmp);
    persona = join(tree.root, 'PERSONA.md');
    writeFileSync(persona, '---\nname: support\nharness: claude-code\n---\n\nYou answer support questions.\n');
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
  });
  afterAll(async () => {
    await gated.stop();
    tree.cleanup();
    runner.cleanup();
  });

  async function turn(input: TurnInput, env: NodeJS.ProcessEnv): Promise<{ out: RunOutcome; submitted: TurnResult[] }> {
    const submitted: TurnResult[] = [];
    runs += 1;
    const sock = await gated.openRunSocket(input.tenant as 'acme', { id: `c${runs}`, topic: 'main', chat: null, depth: 0 }, {
      onSubmit: (r) => submitted.push(r),
    });
    try {
      const out = await runRunner(runner.main, JSON.stringify(input), {
        env: { WARREN_GATED_SOCKET: sock.socketPath, WARREN_PERSONA_FILE: persona, TMPDIR: tmp, PATH: fakeBin, ...env },
      });
      return { out, submitted };
    } finally {
      await sock.close();
    }
  }

  const secret = 'sk-ant-test-0123456789-secret';

  it('runs claude with the pinned invocation; its MCP server is the bridge to this run socket', async () => {
    const input = turnInput({
      tenant: 'acme/support',
      harness: 'claude-code',
      session: 'sess-old',
      model: 'claude-sonnet-4-5',
      messages: [message('please check order 7')],
      env: { WARREN_TEST_TOKEN: secret },
    });
    const { out, submitted } = await turn(input, {});
    expect(out.code).toBe(0);
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({ status: 'ok', session: 'sess-from-fake' });
    const report = JSON.parse(submitted[0]!.result);

    const argv: string[] = report.argv;
    expect(argv[0]).toBe('-p');
    expect(argv[1]).toContain('please check order 7');
    const value = (flag: string) => {
      const joined = argv.find((a) => a.startsWith(`${flag}=`));
      return joined !== undefined ? joined.slice(flag.length + 1) : argv[argv.indexOf(flag) + 1];
    };
    expect(argv).toContain('--strict-mcp-config');
    expect(value('--output-format')).toBe('stream-json');
    expect(argv).toContain('--verbose');
    expect(value('--resume')).toBe('sess-old');
    expect(value('--model')).toBe('claude-sonnet-4-5');
    expect(value('--append-system-prompt')).toBe('You answer support questions.');
    expect(value('--mcp-config')).toMatch(new RegExp(`^${tmp}/warren-claude-[^/]+/mcp\\.json$`));

    // The bridge reached gated on the run socket, as the run's tenant, and gated still decides.
    expect(report.whoami).toMatchObject({ tenant: 'acme/support', run: expect.stringMatching(/^c\d+$/) });
    expect(report.denied).toMatch(/^denied: /);
    expect(report.bridgeExit).toBe(0);

    // Secrets: in claude's environment, never in the MCP config file or the logs.
    expect(report.token).toBe(secret);
    expect(report.quiet).toBe('1');
    expect(report.configText).not.toContain(secret);
    expect(out.stdout + out.stderr).not.toContain(secret);
    // The config lived in a private temp folder that is gone afterwards.
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('lists the tenant’s and the built-in skills in a <skills> block and hands Claude Code the same folders', async () => {
    const root = join(tree.root, 'skills-root');
    mkdirSync(join(root, '.claude/skills/summarise'), { recursive: true });
    writeFileSync(
      join(root, '.claude/skills/summarise/SKILL.md'),
      '---\nname: summarise\ndescription: Three bullets.\nalways: [Quote order numbers.]\nnever: [Include emails.]\n---\nSteps\n',
    );
    const builtinRoot = join(runner.dir, 'builtin-skills');
    const input = turnInput({ tenant: 'acme', harness: 'claude-code', messages: [message('hi')] });
    const argvOf = async (extra: NodeJS.ProcessEnv) => {
      const { submitted } = await turn(input, { WARREN_SKILLS_ROOT: root, WARREN_BUILTIN_SKILLS_ROOT: builtinRoot, ...extra });
      return JSON.parse(submitted[0]!.result).argv as string[];
    };
    const argv = await argvOf({});
    const prompt = argv.find((a) => a.startsWith('--append-system-prompt='))!;
    expect(prompt).toContain('You answer support questions.\n\n<skills>\n');
    expect(prompt).toContain(`<skill name="summarise" file="${root}/.claude/skills/summarise/SKILL.md">\nThree bullets.\nALWAYS: Quote order numbers.\nNEVER: Include emails.\n</skill>`);
    for (const name of ['ralph-loop', 'pagination-cursor', 'fingerprint', 'pipeline']) {
      expect(prompt).toContain(`<skill name="${name}" file="${builtinRoot}/.claude/skills/${name}/SKILL.md" builtin="true">`);
    }
    expect(argv.filter((a) => a.startsWith('--add-dir'))).toEqual([`--add-dir=${root}`, `--add-dir=${builtinRoot}`]);

    // builtin_skills: false in PERSONA.md: only the tenant's own.
    const optedOut = join(tree.root, 'PERSONA-no-builtins.md');
    writeFileSync(optedOut, '---\nbuiltin_skills: false\n---\nYou answer support questions.\n');
    const without = await argvOf({ WARREN_PERSONA_FILE: optedOut });
    expect(without.find((a) => a.startsWith('--append-system-prompt='))).not.toContain('builtin="true"');
    expect(without.filter((a) => a.startsWith('--add-dir'))).toEqual([`--add-dir=${root}`]);
  });

  it('reports claude’s own error result as status error, keeping the new session', async () => {
    const input = turnInput({ tenant: 'acme', harness: 'claude-code', messages: [message('hi')] });
    const { out, submitted } = await turn(input, { FAKE_CLAUDE_MODE: 'error' });
    expect(out.code).toBe(0);
    expect(submitted[0]).toMatchObject({ status: 'error', session: 'sess-from-fake' });
  });

  it('starts a new session when the one to resume is gone from the home, instead of failing every turn', async () => {
    const input = turnInput({ tenant: 'acme', harness: 'claude-code', session: 'lost-session', messages: [message('hi')] });
    const { out, submitted } = await turn(input, { FAKE_CLAUDE_MODE: 'nosession' });
    expect(out.code).toBe(0);
    expect(submitted[0]).toMatchObject({ status: 'ok', session: 'sess-from-fake' });
    const argv: string[] = JSON.parse(submitted[0]!.result).argv;
    expect(argv.some((a) => a.startsWith('--resume'))).toBe(false);
    expect(logRecords(out.stderr)).toContainEqual(expect.objectContaining({ msg: 'claude has no such session; starting a new one' }));
  });

  it('reports a claude that prints no usable answer as status error with its stderr', async () => {
    const input = turnInput({ tenant: 'acme', harness: 'claude-code', session: 'keep-me', messages: [message('hi')] });
    const { out, submitted } = await turn(input, { FAKE_CLAUDE_MODE: 'garbage' });
    expect(out.code).toBe(0);
    expect(submitted).toEqual([
      {
        status: 'error',
        result: 'claude-code harness: claude exited with code 3 and gave no usable answer (claude output is not JSON): fake claude: API key missing',
        session: 'keep-me',
      },
    ]);
    // claude's stderr is in the logs as records of its own.
    expect(logRecords(out.stderr)).toContainEqual(expect.objectContaining({ component: 'claude', msg: 'fake claude: API key missing' }));
  });

  it('without a claude CLI on PATH, reports the missing CLI as status error', async () => {
    const empty = join(tree.root, 'empty-bin');
    mkdirSync(empty);
    const input = turnInput({ tenant: 'acme', harness: 'claude-code', messages: [message('hi')] });
    const { out, submitted } = await turn(input, { PATH: empty });
    expect(out.code).toBe(0);
    expect(submitted).toEqual([
      { status: 'error', result: 'claude-code harness: the claude CLI is not in this image; build it with `warren images build --with-claude-code` (or --dockerfile)' },
    ]);
    expect(existsSync(join(empty, 'claude'))).toBe(false);
  });

  it('a stop request (SIGTERM from the gateway) ends claude and still reports the turn as an error', async () => {
    const submitted: TurnResult[] = [];
    const sock = await gated.openRunSocket('acme', { id: 'stop-1', topic: 'main', chat: null, depth: 0 }, { onSubmit: (r) => submitted.push(r) });
    try {
      const child = spawn(process.execPath, [runner.main], {
        env: { WARREN_GATED_SOCKET: sock.socketPath, WARREN_PERSONA_FILE: persona, TMPDIR: tmp, PATH: fakeBin, FAKE_CLAUDE_MODE: 'hang' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stopped = false;
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString('utf8');
        if (!stopped && stderr.includes('fake claude: waiting forever')) {
          stopped = true;
          child.kill('SIGTERM');
        }
      });
      child.stdin.end(JSON.stringify(turnInput({ tenant: 'acme', harness: 'claude-code', messages: [message('hi')] })));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code).toBe(0);
      expect(submitted).toHaveLength(1);
      expect(submitted[0]!.status).toBe('error');
      expect(submitted[0]!.result).toMatch(/^claude-code harness: claude was stopped before it answered \(the turn’s time limit or a stop request\)/);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      await sock.close();
    }
  });
});
