// The openai harness end to end on this machine: the bundled runner with a real gated run socket, a Chat Completions
// stand-in (non-streamed JSON, tool_calls with ids) reached only through an HTTP proxy, as crackbox's is in a
// container. The stand-in records each request; each test scripts its answers.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import type { TurnInput, TurnResult } from '../../core/turn.js';
import { Gated } from '../../gated/broker.js';
import { GatedClient } from '../../images/agent/runner/gated-client.js';
import { eventually } from '../helpers/wait.js';
import { standardTree, type TempTree } from '../helpers/tree.js';
import { makeTestCa } from '../e2e/test-ca.js';
import { buildRunner, message, runRunner, turnInput, type BuiltRunner } from './helpers.js';

type Answer = { status?: number; headers?: Record<string, string>; body?: unknown; hang?: boolean };
interface Recorded {
  auth: string | undefined;
  body: { model: string; messages: { role: string; content: string | null; tool_call_id?: string; tool_calls?: unknown[] }[]; tools?: { function: { name: string } }[] };
}

const SECURE_HOST = 'llm.secure.invalid';

const completion = (content: string | null, toolCalls?: { id: string; name: string; args: unknown }[]) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [
    {
      index: 0,
      finish_reason: toolCalls ? 'tool_calls' : 'stop',
      message: {
        role: 'assistant',
        content,
        ...(toolCalls ? { tool_calls: toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })) } : {}),
      },
    },
  ],
});

describe('runner: openai harness', () => {
  let tree: TempTree;
  let gated: Gated;
  let runner: BuiltRunner;
  let standIn: Server;
  let secureStandIn: HttpsServer;
  let secureStandInPort = 0;
  let caFile = '';
  let proxy: Server;
  let home: string;
  let answers: Answer[] = [];
  const requests: Recorded[] = [];
  const proxied: string[] = [];
  let runs = 0;
  const KEY = 'sk-openai-test-5f1e2d3c4b5a';

  const listen = (server: Server | HttpsServer) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  let standInPort = 0;
  let proxyPort = 0;

  beforeAll(async () => {
    runner = buildRunner();
    tree = standardTree();
    home = mkdtempSync(join(tree.root, 'home-'));
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        requests.push({ auth: req.headers.authorization, body: JSON.parse(text) });
        const answer = answers.shift() ?? { status: 500, body: { error: { message: 'the test gave no answer' } } };
        if (answer.hang) return; // never answers
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
        res.end(JSON.stringify(answer.body));
      });
    };
    standIn = createServer(handler);
    standInPort = await listen(standIn);
    const ca = makeTestCa(mkdtempSync(join(tree.root, 'ca-')), SECURE_HOST);
    caFile = join(tree.root, 'ca.pem');
    writeFileSync(caFile, ca.caPem);
    secureStandIn = createHttpsServer({ key: ca.key, cert: ca.cert }, handler);
    secureStandInPort = await listen(secureStandIn);
    // A forward proxy for absolute-URI requests: the only way the runner may reach the endpoint.
    proxy = createServer((req, res) => {
      proxied.push(`${req.method} ${req.url}`);
      const target = new URL(req.url!);
      const upstream = httpRequest({ host: '127.0.0.1', port: standInPort, method: req.method, path: target.pathname, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    // HTTPS: a CONNECT tunnel, as crackbox's proxy opens one, to the TLS stand-in.
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      proxied.push(`CONNECT ${req.url}`);
      const upstream = netConnect(secureStandInPort, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    proxyPort = await listen(proxy);
  });
  afterAll(async () => {
    standIn.closeAllConnections();
    standIn.close();
    secureStandIn.closeAllConnections();
    secureStandIn.close();
    proxy.closeAllConnections();
    proxy.close();
    await gated.stop();
    tree.cleanup();
    runner.cleanup();
  });

  async function turn(input: Partial<TurnInput>, extraEnv: NodeJS.ProcessEnv = {}): Promise<TurnResult> {
    const full = turnInput({ tenant: 'acme/support', harness: 'openai', model: 'qwen2.5-7b-instruct', env: { OPENAI_API_KEY: KEY }, ...input });
    const submitted: TurnResult[] = [];
    runs += 1;
    const sock = await gated.openRunSocket(full.tenant as 'acme/support', { id: `o${runs}`, topic: full.topic, chat: 'local:ann', depth: 0 }, {
      onSubmit: (r) => submitted.push(r),
    });
    try {
      const out = await runRunner(runner.main, JSON.stringify(full), {
        env: {
          WARREN_GATED_SOCKET: sock.socketPath,
          WARREN_PERSONA_FILE: join(tree.tenants, 'acme/support/PERSONA.md'),
          HOME: home,
          // The endpoint name resolves nowhere: only the proxy can reach it.
          OPENAI_BASE_URL: 'http://llm.test.invalid:8000/v1',
          HTTP_PROXY: `http://127.0.0.1:${proxyPort}`,
          ...extraEnv,
        },
      });
      expect(out.code).toBe(0);
      expect(out.stdout + out.stderr).not.toContain(KEY);
      return submitted[0]!;
    } finally {
      await sock.close();
    }
  }

  it('offers the grant-filtered warren tools, runs a tool call through gated and sends the result back as a tool message', async () => {
    requests.length = 0;
    answers = [
      { body: completion(null, [{ id: 'call_who_1', name: 'whoami', args: {} }]) },
      { body: completion('You are acme/support.') },
    ];
    const result = await turn({ messages: [message('who am I?')] });
    expect(result).toMatchObject({ status: 'ok', result: 'You are acme/support.' });
    expect(proxied.every((line) => line === 'POST http://llm.test.invalid:8000/v1/chat/completions')).toBe(true);
    expect(proxied.length).toBeGreaterThanOrEqual(2);

    const [first, second] = requests;
    expect(first!.auth).toBe(`Bearer ${KEY}`);
    expect(first!.body.model).toBe('qwen2.5-7b-instruct');
    const offered = first!.body.tools!.map((t) => t.function.name);
    // Exactly what gated lists for this tenant's runs (grant-filtered), asked over a run socket of its own.
    const sock = await gated.openRunSocket('acme/support', { id: 'list', topic: 'main', chat: null, depth: 0 }, { onSubmit: () => undefined });
    const client = await GatedClient.connect(sock.socketPath);
    const listed = (await client.list()).map((t) => t.name);
    await client.close();
    await sock.close();
    expect(offered).toContain('whoami');
    expect(offered).toContain('reply');
    expect([...offered].sort()).toEqual([...listed].sort());
    expect(first!.body.messages[0]).toEqual({ role: 'system', content: expect.stringContaining('Support team.') });
    expect(first!.body.messages.at(-1)).toMatchObject({ role: 'user', content: expect.stringContaining('> who am I?') });
    // The tool's answer went back with the call's id.
    const toolMessage = second!.body.messages.find((m) => m.role === 'tool')!;
    expect(toolMessage.tool_call_id).toBe('call_who_1');
    expect(toolMessage.content).toContain('acme/support');
    // The call reached gated: it is in the audit log.
    await eventually(
      () => (gated.audit.db.prepare("SELECT COUNT(*) AS n FROM audit WHERE tenant = 'acme/support' AND tool = 'whoami'").get() as { n: number }).n > 0,
      'the whoami audit row',
    );
  });

  it("a denial's text reaches the model", async () => {
    requests.length = 0;
    answers = [
      { body: completion(null, [{ id: 'call_cg_1', name: 'create_group', args: { name: 'x' } }]) },
      { body: completion('I may not create groups.') },
    ];
    const result = await turn({ topic: 'denials', messages: [message('make a group')] });
    expect(result).toMatchObject({ status: 'ok', result: 'I may not create groups.' });
    const toolMessage = requests[1]!.body.messages.find((m) => m.role === 'tool')!;
    expect(toolMessage).toMatchObject({ tool_call_id: 'call_cg_1', content: expect.stringMatching(/denied/) });
  });

  it('resumes the conversation of the topic on the next turn, and keeps topics apart', async () => {
    answers = [{ body: completion('Noted: order 7.') }];
    await turn({ topic: 'orders', messages: [message('remember order 7')] });
    requests.length = 0;
    answers = [{ body: completion('It was order 7.') }];
    const result = await turn({ topic: 'orders', messages: [message('which order?')] });
    expect(result.result).toBe('It was order 7.');
    const sent = requests[0]!.body.messages.map((m) => `${m.role}:${m.content ?? ''}`);
    expect(sent.some((m) => m.startsWith('user:') && m.includes('> remember order 7'))).toBe(true);
    expect(sent).toContain('assistant:Noted: order 7.');
    expect(sent.at(-1)).toContain('> which order?');
    // One file per topic in the home.
    expect(readdirSync(join(home, '.warren/openai')).sort()).toEqual(
      ['main', 'denials', 'orders'].map((t) => `${Buffer.from(t).toString('base64url')}.json`).sort(),
    );
  });

  it.each([
    ['a 429 with retry-after', { status: 429, headers: { 'retry-after': '7' }, body: { error: { message: 'slow down' } } }, /rate limiting \(429\); retry after 7 s: .*slow down/],
    ['a 500', { status: 500, body: { error: { message: 'boom' } } }, /the model endpoint failed \(500\): .*boom/],
  ])('%s ends the turn with a clear status', async (_label, answer, expected) => {
    answers = [answer as Answer];
    const result = await turn({ topic: 'errors', messages: [message('hi')] });
    expect(result.status).toBe('error');
    expect(result.result).toMatch(expected);
  });

  it('no answer at all ends the turn after OPENAI_TIMEOUT_S, with a clear status', async () => {
    answers = [{ hang: true }];
    const result = await turn({ topic: 'hang', messages: [message('hi')] }, { OPENAI_TIMEOUT_S: '1' });
    expect(result).toMatchObject({ status: 'error', result: 'the model endpoint llm.test.invalid:8000 did not answer: no answer within 1000 ms' });
  });

  it('reaches an https endpoint through a CONNECT tunnel, trusting a private CA from NODE_EXTRA_CA_CERTS', async () => {
    proxied.length = 0;
    answers = [{ body: completion('over TLS') }];
    const env = { OPENAI_BASE_URL: `https://${SECURE_HOST}/v1`, HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, NODE_EXTRA_CA_CERTS: caFile };
    expect(await turn({ topic: 'tls', messages: [message('hi')] }, env)).toMatchObject({ status: 'ok', result: 'over TLS' });
    expect(proxied).toEqual([`CONNECT ${SECURE_HOST}:443`]);
    // Without the CA the certificate is refused: the tunnel is no way around verification.
    const refused = await turn({ topic: 'tls', messages: [message('hi')] }, { ...env, NODE_EXTRA_CA_CERTS: '' });
    expect(refused).toMatchObject({ status: 'error', result: expect.stringMatching(/did not answer: .*(certificate|self-signed|issuer)/i) });
  });

  it('without OPENAI_BASE_URL or model the turn fails saying what to set', async () => {
    expect((await turn({ messages: [message('hi')] }, { OPENAI_BASE_URL: '' })).result).toMatch(/set OPENAI_BASE_URL under `environment:`/);
    expect((await turn({ model: null, messages: [message('hi')] })).result).toMatch(/set `model:` in PERSONA.md/);
  });
});
