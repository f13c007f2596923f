// The real Claude Code CLI (the pinned version) as a warren agent, end to end: inside the `--with-claude-code` image,
// run by the gateway, talking to a Messages-API stand-in the way production talks to the API — the default
// https://api.anthropic.com, found through crackbox's DNS and proxy (a fake upstream resolver points the name at the
// stand-in on a loopback address), TLS from a test CA the agent trusts through NODE_EXTRA_CA_CERTS, the key a sealed
// secret. The stand-in records every request, so the tests read what the model was offered and given back.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLAUDE_CODE_VERSION } from '../../images/claude-code.js';
import { claudeCodeImageTag, ensureAgentImage } from '../../images/build.js';
import { CLAUDE_BUILTIN_TOOLS } from '../../images/agent/runner/claude/invocation.js';
import { acceptMessage } from '../../gateway/inbound.js';
import type { Warren } from '../../gateway/warren.js';
import { FakeUpstream } from '../crackbox/helpers.js';
import { warren as cli } from '../helpers/cli.js';
import { containersWithLabel, requireDocker } from '../helpers/docker.js';
import { connectClient } from '../helpers/mcp.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';
import { startWarren } from '../helpers/warren.js';
import { startStandIn, toolResults, type MessagesBody, type StandIn } from './messages-standin.js';
import { makeTestCa } from './test-ca.js';

const KEY = `sk-ant-e2e-${Math.random().toString(36).slice(2)}-4f1d9c2b7a6e`;
const API_HOST = 'api.anthropic.com';
/** A loopback address of its own (any 127/8 address is local on Linux), so port 443 is free for the stand-in. */
const API_ADDRESS = `127.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const CA_IN_HOME = '/home/node/.warren-test-ca.pem';
const TIMEOUT_S = 20; // the tenant's limit on the failing-API turns

const SUPPORT = `---
harness: claude-code
limits: { timeout_s: 120 }
---
You are acme's support team.
`;
const FLAKY = `---
harness: claude-code
limits: { timeout_s: ${TIMEOUT_S} }
---
You are acme's on-call team.
`;

describe('the real Claude Code CLI as a warren agent (real Docker, crackbox, TLS)', () => {
  let tree: TempTree;
  let warren: Warren;
  let api: StandIn;
  let dns: FakeUpstream;
  const instance = `cc-${process.pid}`;
  const logs: string[] = [];

  const send = (tenant: string, sender: string, text: string) => {
    const { id } = acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text, sender });
    warren.loop.wake();
    return id;
  };
  const runOf = (messageId: number) =>
    warren.db.prepare('SELECT r.* FROM runs r JOIN messages m ON m.run = r.id WHERE m.id = ?').get(messageId) as
      | { id: string; status: string; result: string | null; error: string | null; topic: string }
      | undefined;
  const finished = (messageId: number, timeoutMs: number) =>
    eventually(
      () => {
        const run = runOf(messageId);
        return run && run.status !== 'running' ? run : undefined;
      },
      `the turn of message ${messageId} finishes`,
      timeoutMs,
    );
  const outboxOf = (runId: string) =>
    warren.db.prepare('SELECT kind, chat, text FROM outbox WHERE run = ? ORDER BY id').all(runId) as Array<{ kind: string; chat: string; text: string }>;
  const requestsWith = (marker: string): MessagesBody[] => api.modelRequests().filter((b) => JSON.stringify(b.messages).includes(marker));

  beforeAll(async () => {
    const docker = await requireDocker();
    // Built once per machine and kept by its tag (the pinned version is in it): later runs only check it exists.
    const image = await ensureAgentImage({
      docker,
      tag: claudeCodeImageTag(),
      withClaudeCode: true,
      progress: (m) => process.stderr.write(`claude-code image: ${m}\n`),
    });

    tree = tempTree({
      'root/PERSONA.md': '---\nname: root\n---\nroot\n',
      'acme/PERSONA.md': '---\nharness: script\n---\nacme\n',
      'acme/support/PERSONA.md': SUPPORT,
      'acme/flaky/PERSONA.md': FLAKY,
      'acme/curious/PERSONA.md': SUPPORT,
      // A world: fork_topic is a world's tool.
      'labs/PERSONA.md': '---\nharness: claude-code\nlimits: { timeout_s: 120 }\n---\nYou are the labs team.\n',
    });
    const caDir = join(tree.root, 'ca');
    mkdirSync(caDir);
    const ca = makeTestCa(caDir, API_HOST);
    for (const t of ['acme/support', 'acme/flaky', 'acme/curious', 'labs']) tree.write(`${t}/home/${CA_IN_HOME.split('/').pop()}`, ca.caPem);
    // MCP servers the agent could add itself (project scope in its working directory, approved in its user
    // settings): never offered. This one would work (it is the runner's own bridge), so only the config keeps it out.
    const sideways = { type: 'stdio', command: '/usr/local/bin/node', args: ['/opt/warren/runner/main.js', 'bridge'], env: { WARREN_GATED_SOCKET: '/run/gated/gated.sock' } };
    tree.write('acme/support/home/.mcp.json', JSON.stringify({ mcpServers: { sideways } }));
    tree.write('acme/support/home/.claude/settings.json', JSON.stringify({ enableAllProjectMcpServers: true }));
    // The agent's own files, as it would have written them (the gateway hands the home folder itself to uid 1000).
    execFileSync('chown', ['-R', '1000:1000', join(tree.tenants, 'acme/support/home')]);

    const common = ['--tenants', tree.tenants, '--data', tree.data];
    expect(cli(['secrets', 'init', ...common]).status).toBe(0);
    const set = (tenant: string, name: string, value: string) =>
      expect(cli(['secrets', 'set', tenant, name, ...common], { input: `${value}\n` }).status).toBe(0);
    set('acme', 'ANTHROPIC_API_KEY', KEY); // inherited by both teams
    set('acme', 'NODE_EXTRA_CA_CERTS', CA_IN_HOME);
    set('labs', 'ANTHROPIC_API_KEY', KEY);
    set('labs', 'NODE_EXTRA_CA_CERTS', CA_IN_HOME);

    api = await startStandIn({ host: API_ADDRESS, port: 443, tls: { key: ca.key, cert: ca.cert } });
    dns = await new FakeUpstream().start();
    dns.records.set(API_HOST, [API_ADDRESS]);

    const sink = new Writable({ write: (chunk, _enc, done) => (logs.push(String(chunk)), done()) });
    warren = await startWarren(tree, {
      log: pino({ level: 'debug' }, sink),
      env: {
        WARREN_INSTANCE: instance,
        WARREN_AGENT_IMAGE: image.tag,
        WARREN_EGRESS_UPSTREAM: `${dns.host}:${dns.port}`,
        // The base allowlist's api.anthropic.com:443 is the only way out; the stand-in's address is let through.
        WARREN_EGRESS_ALLOWED_RANGES: `${API_ADDRESS}/32`,
      },
    });
  }, 15 * 60_000);

  afterAll(async () => {
    await warren?.stop();
    await api?.close();
    await dns?.stop();
    tree?.cleanup();
  });

  it('runs the pinned Claude Code, with bash and git in the image', async () => {
    const image = await (await requireDocker()).getImage(claudeCodeImageTag()).inspect();
    expect(image.Config.Labels).toMatchObject({ 'warren.image.claude-code': CLAUDE_CODE_VERSION });
    expect(image.Config.Env).toContain('SHELL=/bin/bash');
  });

  it('offers exactly the tenant’s warren tools and the kept built-ins; reply lands once; a denial, Bash and Grep read through', async () => {
    api.script('case one', [
      { tool: 'mcp__warren__reply', input: { text: 'Hi Ann, looking into it.' } },
      { tool: 'mcp__warren__send_message', input: { chat: 'tg:424242', text: 'psst' } },
      { tool: 'Bash', input: { command: 'git init -q . && echo "toner low" > notes.txt && git status', description: 'look at the home' } },
      { tool: 'Grep', input: { pattern: 'toner', path: '/home/node', output_mode: 'files_with_matches' } },
      { text: 'All done for case one.' },
    ]);
    const id = send('acme/support', 'ann', 'case one: my printer is on fire');
    const run = await finished(id, 120_000);
    expect(run).toMatchObject({ status: 'done' });

    const reqs = requestsWith('case one');
    expect(reqs).toHaveLength(5);
    // The tools: the grant-filtered warren tools as gated lists them to this tenant, plus the built-ins we keep.
    const client = await connectClient(warren.gated.socketPath('acme/support'));
    const granted = (await client.listTools()).tools.map((t) => `mcp__warren__${t.name}`);
    await client.close();
    for (const body of reqs) expect(body.tools!.map((t) => t.name).sort()).toEqual([...CLAUDE_BUILTIN_TOOLS, ...granted].sort());
    expect(granted).toContain('mcp__warren__reply');
    expect(granted).not.toContain('mcp__warren__delegate_group');
    expect(reqs[0]!.tools!.map((t) => t.name).filter((n) => /^(WebSearch|WebFetch|Task|Agent)$|^mcp__(?!warren__)/.test(n))).toEqual([]);

    // The system prompt lists the skills (here warren's built-in ones) in a <skills> block.
    const system = JSON.stringify(reqs[0]!.system);
    expect(system).toContain('<skills>');
    expect(system).toContain('<skill name=\\"ralph-loop\\" file=\\"/opt/warren/builtin-skills/.claude/skills/ralph-loop/SKILL.md\\" builtin=\\"true\\">');
    // And Claude Code's own skill loading found the same skills through --add-dir: its Skill tool's listing has them.
    expect(JSON.stringify(reqs[0]!.messages)).toContain('- ralph-loop: Work that spans several turns or sessions');

    // What the model was given back after each call: warren's words, a denial's reason, the shell's output.
    const [afterReply] = toolResults(reqs[1]!);
    expect(afterReply!.text).toMatch(/queued reply \d+ to local:ann/);
    const [afterDenied] = toolResults(reqs[2]!);
    expect(afterDenied).toMatchObject({ is_error: true });
    expect(afterDenied!.text).toMatch(/^denied: /);
    const [afterBash] = toolResults(reqs[3]!);
    expect(afterBash!.text).toContain('No commits yet');
    expect(afterBash!.text).toContain('notes.txt');
    const [afterGrep] = toolResults(reqs[4]!); // Grep runs the ripgrep built into Claude Code's binary
    expect(afterGrep!.is_error).not.toBe(true);
    expect(afterGrep!.text).toMatch(/^Found \d+ files?\n(.*\n)*notes\.txt$/m);
    expect(statSync(join(tree.tenants, 'acme/support/home/.git')).isDirectory()).toBe(true);

    // One message in the chat: the agent's reply. Its final answer is not sent after it (the reply rule).
    expect(outboxOf(run.id)).toEqual([{ kind: 'reply', chat: 'local:ann', text: 'Hi Ann, looking into it.' }]);
    const audit = warren.gated.audit.db.prepare('SELECT tool, decision FROM audit WHERE run = ? ORDER BY id').all(run.id);
    expect(audit).toEqual([
      { tool: 'reply', decision: 'allow' },
      { tool: 'send_message', decision: 'deny' },
    ]);

    // The key went to the API as a header only, never into what the model saw or wrote.
    const calls = api.requests.filter((r) => r.path === '/v1/messages');
    expect(calls.every((r) => r.headers['x-api-key'] === KEY)).toBe(true);
    expect(JSON.stringify(calls.map((r) => r.body))).not.toContain(KEY);
  });

  it('a key the agent reads in its shell and writes into a tool call is stored and delivered by name only', async () => {
    // Claude Code's shell inherits its environment (scrubbing it needs bubblewrap, which the container rules out):
    // a model may read its own key. gated redacts secret values in every tool argument before anything is kept.
    // (Claude Code's own session files in that tenant's home then hold what the shell printed: a tenant of its own.)
    api.script('case leak', [
      { tool: 'Bash', input: { command: 'printenv ANTHROPIC_API_KEY', description: 'read the key' } },
      { tool: 'mcp__warren__reply', input: { text: `the key is ${KEY}` } },
      { text: 'done' },
    ]);
    const run = await finished(send('acme/curious', 'bob', 'case leak: what is your key?'), 120_000);
    expect(run.status).toBe('done');
    expect(outboxOf(run.id)).toEqual([{ kind: 'reply', chat: 'local:bob', text: 'the key is [secret:ANTHROPIC_API_KEY]' }]);
    const [afterReply] = toolResults(requestsWith('case leak')[2]!);
    expect(afterReply!.text).not.toContain(KEY);
  });

  it('continues the session on the next turn (--resume), and a slow settings endpoint does not stall it', async () => {
    const first = runOf(warren.db.prepare(`SELECT id FROM messages WHERE text LIKE 'case one%'`).pluck().get() as number)!;
    // Claude Code asks the API host for /api/claude_code/settings and /policy_limits every turn (404 so far).
    const settingsCalls = () => api.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/api/claude_code/')).map((r) => r.path);
    expect(settingsCalls()).toEqual(expect.arrayContaining(['/api/claude_code/settings', '/api/claude_code/policy_limits']));
    const before = settingsCalls().length;
    api.claudeCodeApi = 'hang';
    api.script('case two', [{ text: 'Still here, Ann.' }]);
    const id = send('acme/support', 'ann', 'case two: any news?');
    const run = await finished(id, 120_000);
    api.claudeCodeApi = '404';
    expect(settingsCalls().length).toBeGreaterThan(before); // asked, never answered, and the turn went on
    expect(run, JSON.stringify(run)).toMatchObject({ status: 'done', topic: first.topic });
    // The final answer is the reply this time: the agent sent none itself.
    expect(outboxOf(run.id)).toEqual([{ kind: 'reply', chat: 'local:ann', text: 'Still here, Ann.' }]);
    const [body] = requestsWith('case two');
    // The resumed conversation holds the first turn: its prompt and the calls made in it.
    expect(JSON.stringify(body!.messages)).toContain('case one: my printer is on fire');
    expect(JSON.stringify(body!.messages)).toContain('Hi Ann, looking into it.');
  });

  it('fork_topic starts a new topic from a real session: the fork sees the parent’s history, the parent never sees the fork’s', async () => {
    const sendOn = (topic: string, text: string) => {
      const { id } = acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'labs', topic, text, sender: 'dee' });
      warren.loop.wake();
      return id;
    };
    const sessionOf = (topic: string) => warren.gated.store.topic('labs', topic)?.session ?? null;

    api.script('case fork one', [{ text: 'Noted, Dee.' }]);
    expect(await finished(sendOn('fork-a', 'case fork one: the oven runs hot'), 120_000)).toMatchObject({ status: 'done' });
    const sessionA = sessionOf('fork-a');
    expect(sessionA).not.toBeNull();

    api.script('case fork two', [{ tool: 'mcp__warren__fork_topic', input: { parent: 'fork-a', child: 'fork-b' } }, { text: 'Forked.' }]);
    expect(await finished(sendOn('fork-a', 'case fork two: try the other recipe on the side'), 120_000)).toMatchObject({ status: 'done' });
    expect(toolResults(requestsWith('case fork two')[1]!)[0]!.text).toMatch(/forked topic fork-b from fork-a/);

    api.script('case fork three', [{ text: 'Other recipe it is.' }]);
    expect(await finished(sendOn('fork-b', 'case fork three: use less sugar'), 120_000)).toMatchObject({ status: 'done', topic: 'fork-b' });
    // The fork started from the parent's conversation...
    const [forkRequest] = requestsWith('case fork three');
    expect(JSON.stringify(forkRequest!.messages)).toContain('case fork one: the oven runs hot');
    expect(JSON.stringify(forkRequest!.messages)).toContain('case fork two');
    // ...as a session of its own, which the parent does not share.
    const sessionB = sessionOf('fork-b');
    expect(sessionB).not.toBeNull();
    expect(sessionB).not.toBe(sessionA);
    expect(sessionOf('fork-a')).toBe(sessionA);

    api.script('case fork four', [{ text: 'Back on the first recipe.' }]);
    expect(await finished(sendOn('fork-a', 'case fork four: how is the oven?'), 120_000)).toMatchObject({ status: 'done', topic: 'fork-a' });
    const parentHistory = JSON.stringify(requestsWith('case fork four')[0]!.messages);
    expect(parentHistory).toContain('case fork one: the oven runs hot');
    expect(parentHistory).not.toContain('case fork three');
    expect(parentHistory).not.toContain('Other recipe it is.');
    // The fork now has a session of its own, so its next turn resumes that one instead of forking again.
    expect(warren.gated.store.topic('labs', 'fork-b')).toMatchObject({ session: sessionB, forked_from: sessionA });
  });

  it('a model API that fails ends the turn with a clear status within the tenant’s timeout; the message is failed, not re-queued', async () => {
    const cases = [
      { marker: 'case 429', steps: [{ status: 429, headers: { 'retry-after': '1' }, error: { type: 'rate_limit_error', message: 'slow down' } }], expect: /HTTP 429/ },
      { marker: 'case 500', steps: [{ status: 500, error: { type: 'api_error', message: 'Internal server error' } }], expect: /HTTP 500/ },
      { marker: 'case cut', steps: [{ cut: true as const }], expect: /the model API kept failing \(connection failed/ },
      { marker: 'case silent', steps: [{ hang: true as const }], expect: /claude was stopped before it answered \(the turn’s time limit/ },
    ];
    for (const c of cases) api.script(c.marker, c.steps, { repeat: true });
    // A 429 once, then an answer: the retry-after is honoured and the turn completes.
    api.script('case once', [{ status: 429, headers: { 'retry-after': '1' }, error: { type: 'rate_limit_error', message: 'slow down' } }, { text: 'Recovered.' }]);
    const ids = cases.map((c, i) => send('acme/flaky', `oncall${i}`, `${c.marker}: is the site up?`));
    const once = send('acme/flaky', 'oncall9', 'case once: is the site up?');

    // While the turns wait on the API: the key is nowhere in their containers' configuration.
    const running = await eventually(
      async () => {
        const list = await containersWithLabel(`warren.instance=${instance}`);
        return list.length > 0 ? list : undefined;
      },
      'running containers',
      60_000,
    );
    const docker = await requireDocker();
    const inspected = await Promise.all(running.map((c) => docker.getContainer(c.Id).inspect().catch(() => null))); // gone already: fine
    expect(inspected.filter(Boolean).length).toBeGreaterThan(0);
    for (const info of inspected) expect(JSON.stringify(info)).not.toContain(KEY);

    const bound = (TIMEOUT_S + 30) * 1000; // the limit, docker stop's grace, and the commit
    const runs = await Promise.all(ids.map((id) => finished(id, bound)));
    runs.forEach((run, i) => {
      expect(run.status, cases[i]!.marker).toBe('failed');
      const [sent] = outboxOf(run.id);
      expect(sent!.text, cases[i]!.marker).toMatch(/^⚠ the agent could not finish this turn: claude-code harness: /);
      expect(sent!.text, cases[i]!.marker).toMatch(cases[i]!.expect);
    });
    expect(await finished(once, bound)).toMatchObject({ status: 'done', result: 'Recovered.' });
    // Failed, once: nothing of theirs waits in the queue again.
    const pending = warren.db.prepare(`SELECT COUNT(*) FROM messages WHERE tenant = 'acme/flaky' AND run IS NULL`).pluck().get();
    expect(pending).toBe(0);
  }, 180_000);

  it('never leaks the key: not in logs, not in the homes, not in the audit', () => {
    expect(logs.join('')).not.toContain(KEY);
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
    for (const t of ['acme/support', 'acme/flaky', 'labs']) {
      const files = walk(join(tree.tenants, t, 'home'));
      expect(files.some((f) => f.includes('/.claude/'))).toBe(true); // Claude Code's own state is there...
      for (const f of files) expect(readFileSync(f, 'latin1'), f).not.toContain(KEY); // ...without the key
    }
    expect(JSON.stringify(warren.gated.audit.db.prepare('SELECT * FROM audit').all())).not.toContain(KEY);
  });
});
