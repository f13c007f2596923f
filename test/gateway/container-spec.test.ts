import { describe, it, expect, afterEach } from 'vitest';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertCanonicalMountSources,
  containerSpec,
  ownerInTree,
  probeTenantFiles,
  type ContainerSpecInput,
} from '../../gateway/container-spec.js';

const T = '/srv/warren/tenants';

function input(over: Partial<ContainerSpecInput> = {}): ContainerSpecInput {
  const tenant = over.tenant ?? 'acme/support';
  const tenantDir = over.tenantDir ?? `${T}/${tenant}`;
  return {
    instance: 'prod',
    tenant,
    runId: 'r1',
    image: 'warren/agent:0.1.0',
    tenantDir,
    homeDir: `${tenantDir}/home`,
    socketPath: '/srv/warren/data/run/acme.support/r1.sock',
    runnerDir: '/opt/warren-dist',
    limits: { memory_mb: 512, cpus: 1.5, pids: 128, timeout_s: 300 },
    extraMounts: [],
    env: { WARREN_TENANT: tenant },
    tenantFiles: { persona: true, skills: true },
    ...over,
  };
}

const mountsOf = (spec: ReturnType<typeof containerSpec>) =>
  spec.HostConfig!.Mounts!.map((m) => `${m.Source} -> ${m.Target} ${m.ReadOnly ? 'ro' : 'rw'}`);

describe('containerSpec: hardening every container gets', () => {
  const spec = containerSpec(input());
  const host = spec.HostConfig!;
  it.each<[string, unknown, unknown]>([
    ['AutoRemove', host.AutoRemove, true],
    ['ReadonlyRootfs', host.ReadonlyRootfs, true],
    ['CapDrop', host.CapDrop, ['ALL']],
    ['SecurityOpt', host.SecurityOpt, ['no-new-privileges']],
    ['Privileged', host.Privileged, false],
    ['User', spec.User, '1000:1000'],
    ['Memory', host.Memory, 512 * 1024 * 1024],
    ['MemorySwap (= Memory: no swap)', host.MemorySwap, 512 * 1024 * 1024],
    ['NanoCpus', host.NanoCpus, 1.5e9],
    ['PidsLimit', host.PidsLimit, 128],
    ['Tmpfs /tmp', host.Tmpfs, { '/tmp': 'rw,noexec,nosuid,nodev,size=128m' }],
    ['NetworkMode', host.NetworkMode, 'none'],
    ['OpenStdin', spec.OpenStdin, true],
    ['StdinOnce', spec.StdinOnce, true],
    ['Tty', spec.Tty, false],
    ['Init', host.Init, true],
    ['no Binds (Mounts only)', host.Binds, undefined],
    ['no extra capabilities', host.CapAdd, undefined],
    ['no devices', host.Devices, undefined],
    ['no host PID namespace', host.PidMode, undefined],
    ['Labels', spec.Labels, { 'warren.instance': 'prod', 'warren.tenant': 'acme/support', 'warren.run': 'r1' }],
    ['name', spec.name, 'warren-prod-acme.support-r1'],
    ['WorkingDir', spec.WorkingDir, '/home/node'],
    ['Env', spec.Env, ['WARREN_TENANT=acme/support']],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it('mounts exactly home, socket, runner, persona and skills', () => {
    expect(mountsOf(spec)).toEqual([
      `${T}/acme/support/home -> /home/node rw`,
      '/srv/warren/data/run/acme.support/r1.sock -> /run/gated/gated.sock rw',
      '/opt/warren-dist -> /opt/warren ro',
      `${T}/acme/support/PERSONA.md -> /etc/warren/PERSONA.md ro`,
      `${T}/acme/support/skills -> /etc/warren/skills ro`,
      // again where Claude Code's --add-dir skill discovery looks
      `${T}/acme/support/skills -> /etc/warren/claude/.claude/skills ro`,
    ]);
    expect(spec.HostConfig!.Mounts!.every((m) => m.Type === 'bind')).toBe(true);
    expect(JSON.stringify(spec)).not.toContain('docker.sock');
  });
});

describe('containerSpec: variations', () => {
  it('leaves out PERSONA.md and skills/ when they do not exist', () => {
    const spec = containerSpec(input({ tenantFiles: { persona: false, skills: false } }));
    expect(mountsOf(spec).map((m) => m.split(' -> ')[1])).toEqual(['/home/node rw', '/run/gated/gated.sock rw', '/opt/warren ro']);
  });
  it('mounts no run socket for a run that reaches gated over HTTPS (a cluster runtime)', () => {
    const spec = containerSpec(input({ socketPath: undefined, tenantFiles: { persona: false, skills: false } }));
    expect(mountsOf(spec).map((m) => m.split(' -> ')[1])).toEqual(['/home/node rw', '/opt/warren ro']);
  });
  it('adds resolved extra mounts with their mode', () => {
    const spec = containerSpec(
      input({ extraMounts: [{ source: '/srv/data', target: '/data', readonly: true }, { source: '/srv/shared', target: '/shared', readonly: false }] }),
    );
    expect(mountsOf(spec).slice(-2)).toEqual(['/srv/data -> /data ro', '/srv/shared -> /shared rw']);
  });
  it('joins a given network with its DNS', () => {
    const spec = containerSpec(input({ network: { name: 'warren-egress', dns: ['10.88.0.1'] } }));
    expect(spec.HostConfig!.NetworkMode).toBe('warren-egress');
    expect(spec.HostConfig!.Dns).toEqual(['10.88.0.1']);
  });
  it('replaces the entrypoint with cmd', () => {
    const spec = containerSpec(input({ cmd: ['node', '-e', 'console.log(1)'] }));
    expect(spec.Entrypoint).toEqual(['node']);
    expect(spec.Cmd).toEqual(['-e', 'console.log(1)']);
  });
  it('keeps the image entrypoint without cmd', () => {
    const spec = containerSpec(input());
    expect(spec.Entrypoint).toBeUndefined();
    expect(spec.Cmd).toBeUndefined();
  });
  it('sizes /tmp from memory, with a floor', () => {
    expect(containerSpec(input({ limits: { memory_mb: 32, cpus: 1, pids: 16, timeout_s: 1 } })).HostConfig!.Tmpfs!['/tmp']).toMatch(/size=16m$/);
  });
  it('mounts web/ read-write at /workspace/web only for a tenant that publishes', () => {
    const without = containerSpec(input()).HostConfig!.Mounts!;
    expect(without.some((m) => m.Target === '/workspace/web')).toBe(false);
    const mounts = containerSpec(input({ webDir: `${T}/acme/support/web` })).HostConfig!.Mounts!;
    expect(mounts).toContainEqual({ Type: 'bind', Source: `${T}/acme/support/web`, Target: '/workspace/web', ReadOnly: false });
  });
  it('works for root (tier 0) and a world (tier 1)', () => {
    expect(containerSpec(input({ tenant: 'root' })).Labels!['warren.tenant']).toBe('root');
    expect(containerSpec(input({ tenant: 'acme' })).name).toBe('warren-prod-acme-r1');
  });
});

describe('containerSpec: a worker', () => {
  const worker = { scratchDir: '/srv/warren/data/workers/w-1/scratch', briefFile: '/srv/warren/data/workers/w-1/brief.md' };

  it('reads the home, web/ and extra mounts, writes only its scratch (its working directory) and reads its brief', () => {
    const spec = containerSpec(input({
      worker,
      webDir: `${T}/acme/support/web`,
      extraMounts: [{ source: '/srv/shared', target: '/shared', readonly: false }],
    }));
    expect(mountsOf(spec)).toEqual([
      `${T}/acme/support/home -> /home/node ro`,
      '/srv/warren/data/run/acme.support/r1.sock -> /run/gated/gated.sock rw',
      '/opt/warren-dist -> /opt/warren ro',
      `${T}/acme/support/web -> /workspace/web ro`,
      '/srv/warren/data/workers/w-1/scratch -> /workspace/scratch rw',
      '/srv/warren/data/workers/w-1/brief.md -> /workspace/brief.md ro',
      `${T}/acme/support/PERSONA.md -> /etc/warren/PERSONA.md ro`,
      `${T}/acme/support/skills -> /etc/warren/skills ro`,
      `${T}/acme/support/skills -> /etc/warren/claude/.claude/skills ro`,
      '/srv/shared -> /shared ro',
    ]);
    expect(spec.WorkingDir).toBe('/workspace/scratch');
    expect(containerSpec(input()).WorkingDir).toBe('/home/node');
    expect(spec.HostConfig).toMatchObject({ ReadonlyRootfs: true, CapDrop: ['ALL'], AutoRemove: true });
  });

  it.each<[string, ContainerSpecInput['worker'], RegExp]>([
    ['a scratch folder in the tenant tree', { ...worker, scratchDir: `${T}/acme/support/home/scratch` }, /scratchDir .* must lie outside the tenant tree/],
    ["a scratch folder in another tenant's home", { ...worker, scratchDir: `${T}/other/home` }, /outside the tenant tree/],
    ['a scratch folder holding the tree', { ...worker, scratchDir: '/srv/warren' }, /outside the tenant tree/],
    ['a brief in the tenant tree', { ...worker, briefFile: `${T}/acme/support/PERSONA.md` }, /briefFile .* must lie outside the tenant tree/],
    ['a brief inside its scratch', { ...worker, briefFile: `${worker.scratchDir}/brief.md` }, /must not lie in its scratch folder/],
    ['a relative scratch folder', { ...worker, scratchDir: 'scratch' }, /absolute, normalised/],
  ])('refuses %s', (_name, w, error) => {
    expect(() => containerSpec(input({ worker: w }))).toThrow(error);
  });
});

describe('containerSpec: refusals', () => {
  it.each<[string, Partial<ContainerSpecInput>, RegExp]>([
    ['another tenant as home', { homeDir: `${T}/other/home` }, /not acme\/support's own home/],
    ['the parent as home', { homeDir: `${T}/acme/home` }, /own home/],
    ['a home outside the tenant', { homeDir: '/srv/homes/acme' }, /own home/],
    ["another tenant's web/", { webDir: `${T}/acme/web` }, /not acme\/support's own web folder/],
    ['an extra mount over /workspace/web', { extraMounts: [{ source: '/srv/x', target: '/workspace/web', readonly: true }] }, /fixed mount/],
    ['a tenantDir that is not the tenant', { tenantDir: `${T}/other` }, /not the folder of tenant/],
    ['a relative path', { runnerDir: 'dist' }, /absolute, normalised/],
    ['a path with ..', { runnerDir: '/opt/../srv' }, /absolute, normalised/],
    ['an extra mount in another tenant', { extraMounts: [{ source: `${T}/other/home`, target: '/x', readonly: true }] }, /lies in other, not in acme\/support/],
    ['an extra mount in a child tenant', { tenant: 'acme', extraMounts: [{ source: `${T}/acme/support/home`, target: '/x', readonly: true }] }, /lies in acme\/support, not in acme/],
    ['an extra mount of the tenant folder itself', { extraMounts: [{ source: `${T}/acme/support`, target: '/x', readonly: true }] }, /tenant folder itself/],
    ['an extra mount holding the tree', { extraMounts: [{ source: '/srv/warren', target: '/x', readonly: true }] }, /holds the whole tenant tree/],
    ['the Docker socket', { extraMounts: [{ source: '/var/run/docker.sock', target: '/x', readonly: true }] }, /docker\.sock/],
    ['a folder holding the Docker socket', { extraMounts: [{ source: '/run', target: '/x', readonly: true }] }, /exposes \/run\/docker\.sock/],
    ['the socket as the run socket', { socketPath: '/var/run/docker.sock' }, /docker\.sock/],
    ['an extra mount over a fixed one', { extraMounts: [{ source: '/srv/x', target: '/run/gated', readonly: true }] }, /fixed mount/],
    ['an extra mount over the home', { extraMounts: [{ source: '/srv/x', target: '/home/node', readonly: true }] }, /cover the home/],
    ['a duplicate extra target', { extraMounts: [{ source: '/srv/x', target: '/x', readonly: true }, { source: '/srv/y', target: '/x', readonly: true }] }, /already used/],
    ['a secret in env', { env: { ANTHROPIC_API_KEY: 'sk-...' } }, /looks like a secret/],
    ['a token in env', { env: { GITHUB_TOKEN: 'x' } }, /looks like a secret/],
    ['a bad env name', { env: { 'A=B': 'x' } }, /not a valid variable name/],
    ['a bad instance', { instance: 'a b' }, /instance/],
    ['a bad run id', { runId: '../x' }, /run id/],
    ['a bad tenant', { tenant: 'Acme' }, /tenant/],
    ['an empty cmd', { cmd: [] }, /cmd is empty/],
  ])('%s', (_name, over, error) => {
    expect(() => containerSpec(input(over))).toThrow(error);
  });

  it('lets non-secret look-alikes through', () => {
    expect(containerSpec(input({ env: { GIT_AUTHOR_NAME: 'a', TOKENIZER_MODE: 'b' } })).Env).toEqual(['GIT_AUTHOR_NAME=a', 'TOKENIZER_MODE=b']);
  });
});

describe('ownerInTree', () => {
  it.each<[string, string | null]>([
    ['acme', 'acme'],
    ['acme/home', 'acme'],
    ['acme/home/x/y', 'acme'],
    ['acme/skills', 'acme'],
    ['acme/PERSONA.md', 'acme'],
    ['acme/support', 'acme/support'],
    ['acme/support/home', 'acme/support'],
    ['root/home', 'root'],
    ['root/x', 'root'],
    ['.git', null],
    ['', null],
  ])('%s belongs to %s', (rel, owner) => {
    expect(ownerInTree(T, rel === '' ? T : `${T}/${rel}`)).toBe(owner);
  });
});

describe('probeTenantFiles and assertCanonicalMountSources (real files)', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function tree() {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warren-')));
    const tenants = join(dir, 'tenants');
    for (const t of ['acme/home', 'other/home']) mkdirSync(join(tenants, t), { recursive: true });
    mkdirSync(join(dir, 'runner'));
    writeFileSync(join(dir, 'gated.sock'), '');
    return tenants;
  }

  it('probes PERSONA.md and skills/', () => {
    const tenants = tree();
    expect(probeTenantFiles(join(tenants, 'acme'))).toEqual({ persona: false, skills: false });
    writeFileSync(join(tenants, 'acme/PERSONA.md'), '# acme');
    mkdirSync(join(tenants, 'acme/skills'));
    expect(probeTenantFiles(join(tenants, 'acme'))).toEqual({ persona: true, skills: true });
  });

  it('accepts canonical sources and refuses a symlinked home that points at another tenant', () => {
    const tenants = tree();
    const base = {
      tenant: 'acme',
      tenantDir: join(tenants, 'acme'),
      homeDir: join(tenants, 'acme/home'),
      socketPath: join(dir, 'gated.sock'),
      runnerDir: join(dir, 'runner'),
      tenantFiles: undefined,
    };
    expect(() => assertCanonicalMountSources(containerSpec(input(base)))).not.toThrow();
    rmSync(join(tenants, 'acme/home'), { recursive: true });
    symlinkSync(join(tenants, 'other/home'), join(tenants, 'acme/home'));
    expect(() => assertCanonicalMountSources(containerSpec(input(base)))).toThrow(/through a symlink.*other\/home/);
    rmSync(join(tenants, 'acme/home'));
    expect(() => assertCanonicalMountSources(containerSpec(input(base)))).toThrow(/does not exist/);
  });
});
