// `npm run bench:agent`: warren's cost around a real agent. Model stand-ins on a loopback address answer at once (a
// Messages-API SSE stream for Claude Code, a Chat Completions JSON answer for the openai harness); for N turns each
// (default 10, sequential, after one warm-up) it measures message accepted -> first request at the stand-in, and ->
// reply stored, for the claude-code and the openai harness, each in a real container through crackbox; and bare
// `claude -p` on the host talking to the same stand-in (the pinned binary, copied out of the image). Prints medians
// and the ratios warren / bare claude.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { silentLogger } from '../core/log.js';
import { claudeCodeImageTag, ensureAgentImage } from '../images/build.js';
import { CLAUDE_CODE_PREFIX } from '../images/claude-code.js';
import { acceptMessage } from '../gateway/inbound.js';
import { startWarren } from '../cli/start-warren.js';

const TURNS = Number(process.env.BENCH_TURNS ?? 10);
const ADDRESS = `127.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const KEY = 'sk-ant-bench-0000000000000000';
const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../cli/warren.js');

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** When the first request carrying each marker arrived (performance.now()). */
const firstSeen = new Map<string, number>();
function note(body: string): void {
  // The newest marker: a resumed conversation carries the earlier turns' ones too.
  const marker = [...body.matchAll(/zqbench-[a-z]+-\d+-qz/g)].at(-1)?.[0];
  if (marker && !firstSeen.has(marker)) firstSeen.set(marker, performance.now());
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Messages API: every POST /v1/messages is answered "done" at once; Claude Code's other calls get 404. */
function messagesStandIn(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
    res.writeHead(404, { 'content-type': 'application/json' });
    return void res.end('{"error":{"type":"not_found_error","message":"not here"}}');
  }
  note(body);
  const model = (JSON.parse(body) as { model?: string }).model ?? 'claude';
  if (req.url.startsWith('/v1/messages/count_tokens')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end('{"input_tokens":10}');
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'request-id': 'req_bench' });
  sse(res, 'message_start', {
    type: 'message_start',
    message: { id: 'msg_bench', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } },
  });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'done' } });
  sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
  sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

/** Chat Completions: every request is answered "done" at once. */
function chatStandIn(_req: IncomingMessage, res: ServerResponse, body: string): void {
  note(body);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'done' }, finish_reason: 'stop' }] }));
}

function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  return new Promise((r) => server.listen(0, ADDRESS, () => r({ server, port: (server.address() as { port: number }).port })));
}

/** The pinned claude binary out of the image, so bare `claude -p` on the host is the same version. */
function claudeOnHost(image: string, dir: string): string {
  const created = spawnSync('docker', ['create', image], { encoding: 'utf8' });
  if (created.status !== 0) throw new Error(`docker create failed: ${created.stderr}`);
  const id = created.stdout.trim();
  const out = join(dir, 'claude');
  try {
    const src = `${CLAUDE_CODE_PREFIX}/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe`;
    const cp = spawnSync('docker', ['cp', '-L', `${id}:${src}`, out], { encoding: 'utf8' });
    if (cp.status !== 0) throw new Error(`docker cp failed: ${cp.stderr}`);
  } finally {
    spawnSync('docker', ['rm', id]);
  }
  chmodSync(out, 0o755);
  return out;
}

async function main(): Promise<void> {
  const docker = new Docker();
  const image = (await ensureAgentImage({ docker, tag: claudeCodeImageTag(), withClaudeCode: true, progress: (m) => process.stderr.write(`${m}\n`) })).tag;
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-agent-'));
  const messages = await serve(messagesStandIn);
  const chat = await serve(chatStandIn);
  const tenants = join(dir, 'tenants');
  const data = join(dir, 'data');
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(tenants, path)), { recursive: true });
    writeFileSync(join(tenants, path), text);
  };
  write('bench/PERSONA.md', '---\nharness: script\n---\n');
  write('bench/claude/PERSONA.md', `---\nharness: claude-code\nenvironment:\n  ANTHROPIC_BASE_URL: http://${ADDRESS}:${messages.port}\n---\nBenchmark.\n`);
  write('bench/claude/allowlist', `${ADDRESS}:${messages.port}\n`);
  write('bench/openai/PERSONA.md', `---\nharness: openai\nmodel: bench\nenvironment:\n  OPENAI_BASE_URL: http://${ADDRESS}:${chat.port}/v1\n---\nBenchmark.\n`);
  write('bench/openai/allowlist', `${ADDRESS}:${chat.port}\n`);
  const cli = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [CLI, ...args, '--tenants', tenants, '--data', data], { input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`warren ${args.join(' ')} failed: ${r.stderr}`);
  };
  cli(['secrets', 'init']);
  cli(['secrets', 'set', 'bench/claude', 'ANTHROPIC_API_KEY'], `${KEY}\n`);

  const done = new Map<string, () => void>();
  const warren = await startWarren({
    tenantsDir: tenants,
    dataDir: data,
    log: silentLogger(),
    docker,
    http: false,
    env: { ...process.env, WARREN_AGENT_IMAGE: image, WARREN_EGRESS_ALLOWED_RANGES: `${ADDRESS}/32` },
    onRunEnd: (run, outcome) => {
      if (outcome.status !== 'done') process.stderr.write(`turn of ${run.tenant} ended ${outcome.status}: ${outcome.text ?? ''}\n`);
      done.get(run.tenant)?.();
    },
  });
  const figures: Record<string, { first: number[]; reply: number[] }> = {};
  try {
    for (const [name, tenant] of [['claude', 'bench/claude'], ['openai', 'bench/openai']] as const) {
      process.stderr.write(`${TURNS} turns of ${tenant}...\n`);
      const f: { first: number[]; reply: number[] } = { first: [], reply: [] };
      figures[name] = f;
      for (let i = 0; i <= TURNS; i++) {
        const marker = `zqbench-${name}-${i}-qz`;
        const finished = new Promise<void>((r) => done.set(tenant, r));
        const t0 = performance.now();
        acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text: `${marker}: say done` });
        warren.loop.wake();
        await finished;
        const t1 = performance.now();
        if (i === 0) continue; // warm-up
        f.reply.push(t1 - t0);
        const seen = firstSeen.get(marker);
        if (seen !== undefined) f.first.push(seen - t0);
      }
    }
  } finally {
    await warren.stop();
  }

  process.stderr.write(`${TURNS} bare claude -p runs on the host...\n`);
  const claude = claudeOnHost(image, dir);
  const home = join(dir, 'host-home');
  mkdirSync(home);
  const bare = { first: [] as number[], reply: [] as number[] };
  for (let i = 0; i <= TURNS; i++) {
    const marker = `zqbench-bare-${i}-qz`;
    const t0 = performance.now();
    const code = await new Promise<number | null>((resolveExit) => {
      const child = spawn(claude, ['-p', `${marker}: say done`, '--output-format', 'json'], {
        env: {
          PATH: process.env.PATH,
          HOME: home,
          ANTHROPIC_BASE_URL: `http://${ADDRESS}:${messages.port}`,
          ANTHROPIC_API_KEY: KEY,
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.on('close', resolveExit);
    });
    const t1 = performance.now();
    if (code !== 0) process.stderr.write(`bare claude exited ${code}\n`);
    if (i === 0) continue;
    bare.reply.push(t1 - t0);
    const seen = firstSeen.get(marker);
    if (seen !== undefined) bare.first.push(seen - t0);
  }
  messages.server.close();
  chat.server.close();
  rmSync(dir, { recursive: true, force: true });

  const ms = (v: number) => `${Math.round(v)} ms`;
  const rows: [string, string, string][] = [
    ['bare `claude -p` on the host: start -> first request at the stand-in', ms(median(bare.first)), ''],
    ['bare `claude -p` on the host: start -> exit with the answer', ms(median(bare.reply)), ''],
  ];
  for (const [name, label] of [['claude', 'claude-code harness'], ['openai', 'openai harness']] as const) {
    const f = figures[name]!;
    rows.push([`${label}: message accepted -> first request at the stand-in`, ms(median(f.first)), `${(median(f.first) / median(bare.first)).toFixed(2)}x bare`]);
    rows.push([`${label}: message accepted -> reply stored`, ms(median(f.reply)), `${(median(f.reply) / median(bare.reply)).toFixed(2)}x bare`]);
  }
  console.log(`agent turns (medians of ${TURNS}, stand-ins answering at once)`);
  for (const [what, value, ratio] of rows) console.log(`  ${what.padEnd(74)} ${value.padStart(8)}  ${ratio}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
