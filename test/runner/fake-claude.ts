// A stand-in for the `claude` CLI (no model and no network here): it does what Claude Code does with our invocation
// that matters to warren. It reads the --mcp-config file, launches the `warren` server exactly as configured (the
// runner's bridge), speaks MCP through it (initialize, tools/call whoami, a denied call), then prints a
// `--output-format json` result whose text reports what it saw. FAKE_CLAUDE_MODE=error|garbage|crash|hang|nosession varies the ending (nosession: --resume finds no session).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE = String.raw`
const { spawn } = require('node:child_process');
const { readFileSync, existsSync } = require('node:fs');
const argv = process.argv.slice(2);
const mode = process.env.FAKE_CLAUDE_MODE || 'ok';
if (mode === 'garbage') { process.stderr.write('fake claude: API key missing\n'); process.stdout.write('not json\n'); process.exit(3); }
if (mode === 'hang') { process.stderr.write('fake claude: waiting forever\n'); setInterval(() => {}, 1000); return; }
if (mode === 'crash') { process.stderr.write('fake claude: crashed\n'); process.exit(7); }
if (mode === 'nosession' && argv.some((a) => a.startsWith('--resume'))) {
  process.stderr.write('No conversation found with session ID: ' + argv.find((a) => a.startsWith('--resume=')).slice(9) + '\n');
  process.stdout.write(JSON.stringify({ type: 'result', subtype: 'error_during_execution', is_error: true, session_id: 'ignored' }) + '\n');
  process.exit(1);
}
const configFile = argv[argv.indexOf('--mcp-config') + 1];
const configText = readFileSync(configFile, 'utf8');
const server = JSON.parse(configText).mcpServers.warren;
const child = spawn(server.command, server.args, { env: { ...process.env, ...server.env }, stdio: ['pipe', 'pipe', 'inherit'] });
let buffer = '';
const waiting = new Map();
child.stdout.on('data', (d) => {
  buffer += d;
  let nl;
  while ((nl = buffer.indexOf('\n')) >= 0) {
    const msg = JSON.parse(buffer.slice(0, nl));
    buffer = buffer.slice(nl + 1);
    const w = waiting.get(msg.id);
    if (w) { waiting.delete(msg.id); w(msg); }
  }
});
const request = (id, method, params) => new Promise((resolve) => {
  waiting.set(id, resolve);
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
});
(async () => {
  await request(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fake-claude', version: '0' } });
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
  const who = await request(2, 'tools/call', { name: 'whoami', arguments: {} });
  const denied = await request(3, 'tools/call', { name: 'create_group', arguments: { name: 'x' } });
  child.stdin.end();
  const bridgeExit = await new Promise((resolve) => child.on('close', resolve));
  const report = {
    argv,
    cwdHasConfig: existsSync(configFile),
    configText,
    whoami: JSON.parse(who.result.content[0].text),
    denied: denied.result.content[0].text,
    bridgeExit,
    token: process.env.WARREN_TEST_TOKEN ?? null,
    quiet: process.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC ?? null,
  };
  const isError = mode === 'error';
  process.stdout.write(JSON.stringify({ type: 'result', subtype: isError ? 'error_during_execution' : 'success', is_error: isError,
    result: JSON.stringify(report), session_id: 'sess-from-fake', num_turns: 1 }) + '\n');
  process.exit(isError ? 1 : 0);
})().catch((e) => { process.stderr.write('fake claude failed: ' + e.stack + '\n'); process.exit(9); });
`;

/** Writes an executable `claude` into dir (created if needed) and returns dir, for use as PATH. */
export function installFakeClaude(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'claude');
  writeFileSync(file, `#!${process.execPath}\n${SOURCE}`);
  chmodSync(file, 0o755);
  return dir;
}
