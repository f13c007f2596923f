// Real containers from containerSpec, run by runContainer: the hardening holds from the inside, the ending is
// reported right (exit, OOM, timeout), and nothing is left behind.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type Docker from 'dockerode';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { silentLogger } from '../../core/log.js';
import { containerSpec, type ContainerSpecInput } from '../../gateway/container-spec.js';
import { runContainer } from '../../gateway/docker-runner.js';
import { listRunContainers, removeContainersExcept } from '../../gateway/reconcile-containers.js';
import { DockerRuntime } from '../../gateway/runtime/docker.js';
import { agentImage, containersWithLabel, requireDocker } from '../helpers/docker.js';

const PROBE = String.raw`
const fs = require('fs'), os = require('os'), net = require('net');
const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'ok'; } catch (e) { return e.code; } };
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (k) => (status.match(new RegExp('^' + k + ':\\s*(.*)$', 'm')) || [])[1];
const found = [];
const walk = (dir, depth) => {
  if (depth > 12) return;
  let names; try { names = fs.readdirSync(dir); } catch { return; }
  for (const n of names) {
    const p = (dir === '/' ? '' : dir) + '/' + n;
    if (['/proc', '/sys', '/dev'].includes(p)) continue;
    if (n.includes(process.env.MARKER)) found.push(p);
    let st; try { st = fs.lstatSync(p); } catch { continue; }
    if (st.isDirectory()) walk(p, depth + 1);
  }
};
walk('/', 0);
let stdin = '';
process.stdin.on('data', (c) => (stdin += c));
process.stdin.on('end', () => {
  const result = {
    uid: process.getuid(), gid: process.getgid(),
    capEff: field('CapEff'), capBnd: field('CapBnd'), noNewPrivs: field('NoNewPrivs'),
    writeRoot: tryWrite('/x'), writeTmp: tryWrite('/tmp/x'), writeHome: tryWrite('/home/node/x'),
    writePersona: tryWrite('/etc/warren/PERSONA.md'), persona: fs.readFileSync('/etc/warren/PERSONA.md', 'utf8'),
    skills: fs.readdirSync('/etc/warren/skills'),
    writeRunner: tryWrite('/opt/warren/x'),
    dockerSock: fs.existsSync('/var/run/docker.sock') || fs.existsSync('/run/docker.sock'),
    interfaces: Object.keys(os.networkInterfaces()).sort(),
    found, home: process.env.HOME, stdin,
  };
  fs.writeFileSync('/home/node/result.json', JSON.stringify(result));
  console.log('probe says hi');
  console.error('probe warns');
  const s = net.connect('/run/gated/gated.sock', () => s.end('hello from the container'));
  s.on('close', () => process.exit(0));
  s.on('error', (e) => { console.error(e.message); process.exit(3); });
});
`;

describe('runContainer with real Docker', () => {
  let docker: Docker;
  let image: string;
  let dir: string;
  let tenants: string;
  let runnerDir: string;
  let server: Server;
  let socketPath: string;
  const received: string[] = [];
  const instance = `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const marker = `OTHER-TENANT-${Math.random().toString(36).slice(2, 10)}`;
  let runs = 0;

  beforeAll(async () => {
    docker = await requireDocker();
    image = (await agentImage()).tag;
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warren-')));
    tenants = join(dir, 'tenants');
    for (const t of ['acme', 'other']) {
      const home = join(tenants, t, 'home');
      mkdirSync(home, { recursive: true });
      // In production the gateway gives each home to uid 1000; here: chown when root, else open it up.
      try {
        chownSync(home, 1000, 1000);
      } catch {
        chmodSync(home, 0o777);
      }
    }
    writeFileSync(join(tenants, 'acme/PERSONA.md'), '---\nname: acme\n---\nBe helpful.\n');
    mkdirSync(join(tenants, 'acme/skills/search'), { recursive: true });
    writeFileSync(join(tenants, 'other/home', marker), 'secret of another tenant');
    mkdirSync(join(tenants, 'other/skills', marker), { recursive: true });
    runnerDir = join(dir, 'runner-dist');
    mkdirSync(join(runnerDir, 'runner'), { recursive: true });
    writeFileSync(join(runnerDir, 'runner/main.js'), '');
    mkdirSync(join(dir, 'run'));
    socketPath = join(dir, 'run/r.sock');
    server = createServer((c) => {
      let text = '';
      c.on('data', (d) => (text += d.toString()));
      c.on('end', () => received.push(text));
    });
    await new Promise<void>((r) => server.listen(socketPath, r));
    chmodSync(socketPath, 0o666); // the container connects as uid 1000
  });

  afterAll(async () => {
    server?.close();
    if (docker) {
      for (const c of await containersWithLabel(`warren.instance=${instance}`)) {
        await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function spec(over: Partial<ContainerSpecInput> & { cmd: string[] }): { runId: string; options: Docker.ContainerCreateOptions } {
    const runId = `run${++runs}`;
    const options = containerSpec({
      instance,
      tenant: 'acme',
      runId,
      image,
      tenantDir: join(tenants, 'acme'),
      homeDir: join(tenants, 'acme/home'),
      socketPath,
      runnerDir,
      limits: { memory_mb: 128, cpus: 1, pids: 64, timeout_s: 30 },
      extraMounts: [],
      env: { MARKER: marker },
      ...over,
    });
    return { runId, options };
  }

  async function leftovers(runId: string): Promise<number> {
    return (await containersWithLabel(`warren.run=${runId}`)).filter((c) => c.Labels['warren.instance'] === instance).length;
  }

  it('holds the hardening from the inside, feeds stdin, logs output, reaches gated, leaves nothing', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const { runId, options } = spec({ cmd: ['/usr/local/bin/node', '-e', PROBE] });
    const result = await runContainer(docker, options, { stdin: 'the turn', timeoutMs: 30_000, log: pino({ level: 'info' }, sink) });

    expect(result).toMatchObject({ exitCode: 0, timedOut: false, oomKilled: false });
    expect(result.containerId).toMatch(/^[0-9a-f]{64}$/);
    const r = JSON.parse(readFileSync(join(tenants, 'acme/home/result.json'), 'utf8')) as Record<string, unknown>;
    expect(r).toMatchObject({
      uid: 1000,
      gid: 1000,
      capEff: '0000000000000000',
      capBnd: '0000000000000000',
      noNewPrivs: '1',
      writeRoot: 'EROFS',
      writeTmp: 'ok',
      writeHome: 'ok',
      writePersona: 'EROFS',
      persona: '---\nname: acme\n---\nBe helpful.\n',
      skills: ['search'],
      writeRunner: 'EROFS',
      dockerSock: false,
      interfaces: ['lo'],
      found: [],
      home: '/home/node',
      stdin: 'the turn',
    });
    expect(received).toContain('hello from the container');
    expect(lines).toContainEqual(expect.objectContaining({ stream: 'stdout', msg: 'probe says hi' }));
    expect(lines).toContainEqual(expect.objectContaining({ stream: 'stderr', msg: 'probe warns' }));
    expect(await leftovers(runId)).toBe(0);
  });

  it('scrubs secrets from output before cutting long lines, so none is ever half printed (in the log and the live output)', async () => {
    const SECRET = 'sk-live-9f8e7d6c5b4a3210';
    const records: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        records.push(chunk.toString());
        done();
      },
    });
    // The secret straddles the 8 KiB cut of a long line, and then ends a short line.
    const say = `process.stdout.write('x'.repeat(8180) + ${JSON.stringify(SECRET)} + 'y'.repeat(9000) + '\\nshort ' + ${JSON.stringify(SECRET)} + '\\n')`;
    const { runId, options } = spec({ cmd: ['/usr/local/bin/node', '-e', say] });
    const redact = (t: string) => t.split(SECRET).join('[secret:KEY]');
    const lines: string[] = [];
    await runContainer(docker, options, { stdin: '', timeoutMs: 30_000, log: pino({ level: 'info' }, sink), redact, onLine: (l) => lines.push(l) });
    const all = records.join('');
    expect(all).toContain('short [secret:KEY]');
    for (let n = 6; n <= SECRET.length; n++) expect(all).not.toContain(SECRET.slice(0, n));
    // The live output gets the same lines as the log: scrubbed and cut.
    expect(lines).toHaveLength(2);
    expect(lines[0]!.length).toBe(8 * 1024 + 1);
    expect(lines[1]).toBe('short [secret:KEY]');
    for (let n = 6; n <= SECRET.length; n++) expect(lines.join('\n')).not.toContain(SECRET.slice(0, n));
    expect(await leftovers(runId)).toBe(0);
  });

  it('reports a memory hog as oomKilled, and removes it', async () => {
    const hog = 'const a = []; for (;;) a.push(Buffer.alloc(4 << 20, 1));';
    const { runId, options } = spec({
      cmd: ['/usr/local/bin/node', '-e', hog],
      limits: { memory_mb: 64, cpus: 1, pids: 64, timeout_s: 30 },
    });
    const result = await runContainer(docker, options, { stdin: '', timeoutMs: 60_000, log: silentLogger() });
    expect(result).toMatchObject({ oomKilled: true, timedOut: false, exitCode: 137 });
    expect(await leftovers(runId)).toBe(0);
  });

  it('stops then kills a sleeper at the timeout; labels are set while it runs', async () => {
    // Ignores SIGTERM, so only the kill after the grace period ends it. (The timeout leaves node seconds to install
    // its handler; a SIGTERM before that would end it with 143 and fail the test, not pass it wrongly.)
    const sleeper = "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000);";
    const { runId, options } = spec({ cmd: ['/usr/local/bin/node', '-e', sleeper] });
    const running = runContainer(docker, options, { stdin: '', timeoutMs: 3_000, stopGraceS: 1, log: silentLogger() });

    let seen: Docker.ContainerInfo[] = [];
    while (seen.length === 0) {
      seen = await containersWithLabel(`warren.run=${runId}`);
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen[0]!.Labels).toMatchObject({ 'warren.instance': instance, 'warren.tenant': 'acme', 'warren.run': runId });
    expect((await listRunContainers(docker, instance)).map((c) => c.runId)).toContain(runId);

    const result = await running;
    expect(result).toMatchObject({ timedOut: true, oomKilled: false, exitCode: 137 });
    expect(await leftovers(runId)).toBe(0);
  });

  it('a sleeper that honours SIGTERM ends gracefully at the stop, before any kill', async () => {
    const polite = "process.on('SIGTERM', () => process.exit(42)); setInterval(() => {}, 1000);";
    const { runId, options } = spec({ cmd: ['/usr/local/bin/node', '-e', polite] });
    const result = await runContainer(docker, options, { stdin: '', timeoutMs: 3_000, stopGraceS: 20, log: silentLogger() });
    expect(result).toMatchObject({ timedOut: true, oomKilled: false, exitCode: 42 });
    expect(await leftovers(runId)).toBe(0);
  });

  it('a missing binary is exit code 127 from the init process, not a hang', async () => {
    const { runId, options } = spec({ cmd: ['/no/such/binary'] });
    const result = await runContainer(docker, options, { stdin: '', timeoutMs: 30_000, log: silentLogger() });
    expect(result).toMatchObject({ exitCode: 127, timedOut: false, oomKilled: false });
    expect(await leftovers(runId)).toBe(0);
  });

  it('a container that fails to start is removed and the error surfaces', async () => {
    const { runId, options } = spec({ cmd: ['/usr/local/bin/node', '-e', '0'] });
    // A file bound over the runner directory: created fine, but the runtime cannot mount it at start.
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, '');
    options.HostConfig!.Mounts![2]!.Source = file;
    await expect(runContainer(docker, options, { stdin: '', timeoutMs: 30_000, log: silentLogger() })).rejects.toThrow(/not a directory/i);
    expect(await leftovers(runId)).toBe(0);
  });

  it('refuses a spec whose mount sources go through a symlink, before creating anything', async () => {
    const { runId, options } = spec({ cmd: ['/usr/local/bin/node', '-e', '0'] });
    options.HostConfig!.Mounts![0]!.Source = join(dir, 'link-to-home');
    const { symlinkSync } = await import('node:fs');
    symlinkSync(join(tenants, 'other/home'), join(dir, 'link-to-home'));
    await expect(runContainer(docker, options, { stdin: '', timeoutMs: 30_000, log: silentLogger() })).rejects.toThrow(/symlink/);
    expect(await leftovers(runId)).toBe(0);
  });

  it('reconcile removes this instance’s orphans and leaves live runs and other instances alone', async () => {
    const other = `${instance}-other`;
    const live = spec({ cmd: ['/usr/local/bin/node', '-e', '0'] });
    const orphan = spec({ cmd: ['/usr/local/bin/node', '-e', '0'] });
    const foreign = spec({ cmd: ['/usr/local/bin/node', '-e', '0'], instance: other });
    // Created, never started: exactly what a gateway crash between create and start leaves.
    const ids = await Promise.all([live, orphan, foreign].map(async (s) => (await docker.createContainer(s.options)).id));
    try {
      const removed = await removeContainersExcept(docker, instance, [live.runId]);
      expect(removed).toEqual([ids[1]]);
      expect((await listRunContainers(docker, instance)).map((c) => c.runId)).toEqual([live.runId]);
      expect((await listRunContainers(docker, other)).map((c) => c.runId)).toEqual([foreign.runId]);
    } finally {
      for (const id of ids) await docker.getContainer(id).remove({ force: true }).catch(() => {});
    }
  });

  it('the local runtime stops a run by its container name, and stopping one already gone is no error', async () => {
    const runtime = new DockerRuntime(docker);
    const polite = "process.on('SIGTERM', () => process.exit(42)); setInterval(() => {}, 1000);";
    const { runId, options } = spec({ cmd: ['/usr/local/bin/node', '-e', polite] });
    const running = runtime.run(options, { stdin: '', timeoutMs: 60_000, log: silentLogger() });
    while ((await containersWithLabel(`warren.run=${runId}`)).length === 0) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500)); // node must have installed its SIGTERM handler
    await runtime.stop(options.name!, 20);
    expect(await running).toMatchObject({ exitCode: 42, timedOut: false });
    await expect(runtime.stop(options.name!, 1)).resolves.toBeUndefined();
    expect((await runtime.list(instance)).map((c) => c.runId)).not.toContain(runId);
  });
});
