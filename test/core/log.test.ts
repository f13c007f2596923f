// Logs a person can read and a machine can parse: pretty on a terminal, one JSON object per line when piped, and no
// key written twice in a line (JSON.parse keeps the last of two, so duplicates are checked on the raw text).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentLogger, logFormat } from '../../core/log.js';
import { agentImage } from '../helpers/docker.js';
import { requireBuilt, warren } from '../helpers/cli.js';
import { startUp } from '../helpers/up.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

/** Every key that occurs more than once in one object of a JSON text, at any depth (a raw scan, not JSON.parse). */
function repeatedKeys(json: string): string[] {
  const open: Set<string>[] = [];
  const repeated: string[] = [];
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '{') open.push(new Set());
    else if (c === '}') open.pop();
    else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      const text = json.slice(i + 1, end);
      let next = end + 1;
      while (json[next] === ' ') next++;
      const keys = open.at(-1);
      if (json[next] === ':' && keys) {
        if (keys.has(text)) repeated.push(text);
        keys.add(text);
      }
      i = end;
    }
  }
  return repeated;
}

const isJson = (line: string) => {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
};

describe('repeatedKeys (the scan the tests below rely on)', () => {
  it.each<[string, string[]]>([
    ['{"component":"warren","component":"gated"}', ['component']],
    ['{"a":1,"b":{"a":2,"c":"a:"}}', []],
    ['{"a":{"b":1,"b":2},"msg":"say \\"a\\": twice"}', ['b']],
    ['{"msg":"{\\"a\\":1,\\"a\\":2}"}', []],
  ])('%s -> %j', (json, keys) => expect(repeatedKeys(json)).toEqual(keys));
});

describe('logFormat', () => {
  it.each<[string | undefined, boolean, string]>([
    [undefined, true, 'pretty'],
    [undefined, false, 'json'],
    ['', true, 'pretty'],
    ['json', true, 'json'],
    ['pretty', false, 'pretty'],
  ])('WARREN_LOG_FORMAT=%s, stderr a terminal: %s -> %s', (setting, terminal, format) => {
    expect(logFormat(setting, terminal)).toBe(format);
  });

  it('refuses a value it does not know, naming the ones it does', () => {
    expect(() => logFormat('JSON ', false)).toThrow('WARREN_LOG_FORMAT must be "json" or "pretty", not "JSON "');
  });
});

describe('componentLogger', () => {
  it('replaces the component of a component logger rather than repeating it, and keeps the other bindings', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    const root = pino({ base: { pid: 1 } }, sink).child({ instance: 'test' });
    const warrenLog = componentLogger(root, 'warren');
    componentLogger(warrenLog, 'gated').info('one');
    componentLogger(componentLogger(warrenLog, 'gated'), 'tree').info('two');
    warrenLog.info('three');
    expect(lines.map(repeatedKeys)).toEqual([[], [], []]);
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([
      { instance: 'test', component: 'gated', msg: 'one' },
      { instance: 'test', component: 'tree', msg: 'two' },
      { instance: 'test', component: 'warren', msg: 'three' },
    ]);
  });
});

// A limit above the maximum and a mount no allowlist grants make the turn log warnings of its own (lines with the
// run's bindings and more).
const SLOW = `---
harness: script
limits: { timeout_s: 45, pids: 5000 }
mounts: [{ host: /srv/catalogue, container: /data/catalogue }]
script:
  - match: ".*"
    work: { hold_ms: 3000 }
    reply: "done"
---
`;

describe('warren up with stderr piped', () => {
  let tree: TempTree;
  let lines: string[];
  let code: number | null;

  beforeAll(async () => {
    tree = tempTree({ 'acme/PERSONA.md': SLOW, 'acme/team/PERSONA.md': SLOW });
    const instance = `logs-${process.pid}`;
    const up = await startUp(tree, { WARREN_AGENT_IMAGE: (await agentImage()).tag, WARREN_INSTANCE: instance, WARREN_EGRESS: 'off', WARREN_LOG_FORMAT: '' });
    expect(warren(['send', 'acme', 'hello', '--tenants', tree.tenants, '--data', tree.data]).status).toBe(0);
    await eventually(() => up.stderr().includes('"msg":"turn starting"'), 'a turn running');
    code = await up.stop();
    lines = up.stderr().split('\n').filter((l) => l.startsWith('{'));
  });
  afterAll(() => tree.cleanup());

  it('writes one JSON object per line with no key written twice', () => {
    expect(code).toBe(0);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(isJson(line), line).toBe(true);
      expect(repeatedKeys(line), line).toEqual([]);
    }
    // The parts of warren up, each under its own component.
    const components = new Set(lines.map((l) => JSON.parse(l).component));
    for (const c of ['warren', 'gated', 'turns']) expect(components).toContain(c);
    expect(lines).toContainEqual(expect.stringMatching(/"tenant":"acme".*"msg":"PERSONA.md limits.pids: 5000 is above the operator maximum/));
    expect(lines).toContainEqual(expect.stringMatching(/"tenant":"acme".*"msg":"extra mount refused: /));
  });

  it('says which turn a shutdown waits for, and when its timeout ends', () => {
    const started = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'turn starting');
    const waiting = lines.map((l) => JSON.parse(l)).filter((l) => /^stopping: waiting for turn/.test(l.msg));
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({ component: 'turns', run: started.run, tenant: 'acme', timeout_s: 45 });
    expect(waiting[0].left_s).toBeLessThanOrEqual(45);
    expect(waiting[0].msg).toBe(`stopping: waiting for turn ${started.run} of acme, its 45 s timeout ends in ${waiting[0].left_s} s`);
  });
});

/** `warren gated` on `tree` under `script` (a pseudo-terminal) or plainly piped, until it is ready; its output. */
async function gatedOutput(tree: TempTree, how: 'terminal' | 'pipe', env: NodeJS.ProcessEnv = {}): Promise<string> {
  const pidFile = join(tree.root, `gated-${how}.pid`);
  const gated = `'${process.execPath}' '${requireBuilt()}' gated --tenants '${tree.tenants}' --data '${tree.data}'`;
  // The shell runs gated in the background so that the test can stop gated itself (SIGTERM) once it is ready.
  const shell = `${gated} & echo $! > '${pidFile}'; wait`;
  const child =
    how === 'terminal'
      ? spawn('script', ['-qfc', shell, '/dev/null'], { env: { ...process.env, WARREN_LOG_LEVEL: 'info', WARREN_LOG_FORMAT: '', ...env } })
      : spawn('sh', ['-c', `exec 2>&1; ${shell}`], { env: { ...process.env, WARREN_LOG_LEVEL: 'info', WARREN_LOG_FORMAT: '', ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    await eventually(() => /gated ready/.test(out), `warren gated (${how}) ready; output so far:\n${out}`, 30_000);
  } finally {
    // gated may have failed to start (the wait above then says so): stop what is there and let the error stand.
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : NaN;
    try {
      process.kill(pid > 0 ? pid : child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    await exited;
  }
  return out;
}

describe('warren gated on a terminal', () => {
  let tree: TempTree;
  beforeAll(() => {
    tree = tempTree({ 'acme/PERSONA.md': '---\nharness: script\n---\n' });
  });
  afterAll(() => tree.cleanup());

  it('writes readable lines, not JSON: time, level name and message on one line', async () => {
    const out = await gatedOutput(tree, 'terminal');
    const logLines = out.split(/\r?\n/).filter((l) => /INFO/.test(l));
    expect(logLines.length).toBeGreaterThan(1);
    for (const line of out.split(/\r?\n/).filter((l) => l.trim() !== '')) expect(isJson(line.trim()), line).toBe(false);
    // Colours on a terminal; stripped, the line reads "[hh:mm:ss.mmm] INFO: [gated] gated ready {...}".
    const plain = logLines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(plain).toContainEqual(expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[gated\] gated ready \{.*"tenants":1/));
    expect(plain).toContainEqual(expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[gated\] tenant socket open \{"tenant":"acme"/));
  });

  it('WARREN_LOG_FORMAT=json keeps JSON on a terminal, and =pretty makes piped logs readable (without colours)', async () => {
    const json = (await gatedOutput(tree, 'terminal', { WARREN_LOG_FORMAT: 'json' })).split(/\r?\n/).filter((l) => l.startsWith('{'));
    expect(json).toContainEqual(expect.stringContaining('"msg":"gated ready"'));
    for (const line of json) expect(isJson(line), line).toBe(true);
    const pretty = await gatedOutput(tree, 'pipe', { WARREN_LOG_FORMAT: 'pretty' });
    expect(pretty).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[gated\] gated ready \{/m);
    expect(pretty).not.toContain('\x1b[');
  });

  it('a WARREN_LOG_FORMAT it does not know is a clear error, not a silent fallback', () => {
    const r = warren(['gated', '--tenants', tree.tenants, '--data', tree.data], { env: { WARREN_LOG_FORMAT: 'yaml' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('WARREN_LOG_FORMAT must be "json" or "pretty", not "yaml"');
  });
});
