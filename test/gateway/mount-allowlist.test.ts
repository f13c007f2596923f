import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatConfigError } from '../../core/config-error.js';
import {
  blockedPart,
  containerTargetProblem,
  decideMount,
  defaultAllowlistPath,
  loadAllowlist,
  parseAllowlist,
  parseMountRequest,
  resolveMounts,
  type MountPolicy,
} from '../../gateway/mount-allowlist.js';

describe('containerTargetProblem', () => {
  it.each([
    ['/data'],
    ['/srv/shared'],
    ['/home/node/data'], // inside the home is fine: it shadows part of it
    ['/mnt/a.b-c_d@e+f'],
  ])('accepts %s', (target) => {
    expect(containerTargetProblem(target)).toBeNull();
  });
  it.each([
    ['', /empty/],
    ['data', /not absolute/],
    ['/data:rw', /":"/],
    ['/data/../etc', /"\.\."/],
    ['/data//x', /not normalised/],
    ['/data/', /not normalised/],
    ['/data/./x', /not normalised/],
    ['/da ta', /characters/],
    ['/', /whole filesystem/],
    ['/home/node', /cover the home/],
    ['/home', /cover the home/],
    ['/run/gated', /fixed mount \/run\/gated/],
    ['/run/gated/other.sock', /fixed mount \/run\/gated/],
    ['/run', /fixed mount \/run\/gated/],
    ['/opt/warren', /fixed mount \/opt\/warren/],
    ['/opt', /fixed mount \/opt\/warren/],
    ['/etc/warren/skills', /fixed mount \/etc\/warren/],
    ['/etc', /fixed mount \/etc\/warren/],
    ['/tmp/x', /fixed mount \/tmp/],
    ['/proc/self', /fixed mount \/proc/],
    ['/dev/shm', /fixed mount \/dev/],
  ])('rejects %j', (target, problem) => {
    expect(containerTargetProblem(target)).toMatch(problem);
  });
});

describe('blockedPart', () => {
  it.each([
    ['/home/me/.ssh', '.ssh'],
    ['/home/me/.ssh/id_rsa', '.ssh'],
    ['/srv/app/.env', '.env'],
    ['/srv/app/.env.production', '.env.production'],
    ['/home/me/.aws/credentials', '.aws'],
    ['/home/me/.config/gcloud', 'gcloud'],
    ['/srv/x/ID_ED25519', 'ID_ED25519'],
    ['/root/.docker', '.docker'],
    ['/home/me/.kube/config', '.kube'],
    ['/home/me/.netrc', '.netrc'],
    ['/home/me/.gnupg', '.gnupg'],
  ])('%s is blocked by %s', (path, part) => {
    expect(blockedPart(path)).toBe(part);
  });
  it.each([['/srv/data'], ['/srv/environment'], ['/srv/envoy'], ['/home/me/sshfs']])('%s is not blocked', (path) => {
    expect(blockedPart(path)).toBeNull();
  });
});

describe('parseMountRequest', () => {
  it.each([
    [{ host: '/srv/a', container: '/a' }, true],
    [{ host: '/srv/a', container: '/a', readonly: false }, true],
    [{ host: 'srv/a', container: '/a' }, false],
    [{ host: '/srv/a' }, false],
    [{ host: '/srv/a', container: '/a', readonly: 'no' }, false],
    [{ host: '/srv/a', container: '/a', options: 'rbind' }, false],
    ['/srv/a:/a', false],
    [null, false],
  ])('%j -> ok=%s', (raw, ok) => {
    expect(parseMountRequest(raw).ok).toBe(ok);
  });
});

describe('decideMount (pure)', () => {
  const policy: MountPolicy = {
    roots: [
      { mode: 'ro', path: '/srv', line: 1 },
      { mode: 'rw', path: '/srv/shared', line: 2 },
    ],
    forbidden: ['/srv/warren/tenants', '/var/run/docker.sock'],
  };
  it.each<[string, { host: string; container: string; readonly?: boolean }, string | null, { readonly: boolean } | RegExp]>([
    ['read-only by default', { host: '/srv/data', container: '/data' }, '/srv/data', { readonly: true }],
    ['rw where the most specific root is rw', { host: '/srv/shared/x', container: '/x', readonly: false }, '/srv/shared/x', { readonly: false }],
    ['ro asked under an rw root', { host: '/srv/shared/x', container: '/x', readonly: true }, '/srv/shared/x', { readonly: true }],
    ['rw asked under an ro root', { host: '/srv/data', container: '/data', readonly: false }, '/srv/data', /read-write asked, but \/srv is allowed read-only \(allowlist line 1\)/],
    ['outside every root', { host: '/etc', container: '/x' }, '/etc', /under no root/],
    ['a prefix that is not a parent', { host: '/srvx/data', container: '/x' }, '/srvx/data', /under no root/],
    ['missing host path', { host: '/srv/nope', container: '/x' }, null, /does not exist/],
    ['symlink resolving outside', { host: '/srv/link', container: '/x' }, '/etc', /under no root/],
    ['symlink resolving to credentials', { host: '/srv/link', container: '/x' }, '/home/me/.ssh', /\.ssh/],
    ['credentials as written', { host: '/srv/.aws', container: '/x' }, '/srv/.aws', /"\.aws" looks like credentials/],
    ['inside a forbidden path', { host: '/srv/warren/tenants/acme', container: '/x' }, '/srv/warren/tenants/acme', /is or holds \/srv\/warren\/tenants/],
    ['a folder holding a forbidden path', { host: '/srv/warren', container: '/x' }, '/srv/warren', /is or holds \/srv\/warren\/tenants/],
    ['a bad container path', { host: '/srv/data', container: '/run/gated' }, '/srv/data', /fixed mount/],
  ])('%s', (_name, request, real, expected) => {
    const d = decideMount(request, real, policy);
    if (expected instanceof RegExp) {
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.reason).toMatch(expected);
    } else {
      expect(d).toEqual({ ok: true, mount: { source: real, target: request.container, readonly: expected.readonly } });
    }
  });
});

describe('parseAllowlist', () => {
  const exists = (p: string) => (p.startsWith('/missing') ? null : p);
  it('reads roots, comments and blank lines', () => {
    const { roots, errors } = parseAllowlist('# data\nro /srv/data\n\n  rw /srv/shared   # team\n', '/cfg', exists);
    expect(errors).toEqual([]);
    expect(roots).toEqual([
      { mode: 'ro', path: '/srv/data', line: 2 },
      { mode: 'rw', path: '/srv/shared', line: 4 },
    ]);
  });
  it.each([
    ['rx /srv', 1, /expected "ro \/path"/],
    ['ro srv', 1, /not an absolute path/],
    ['ro /srv/data extra', 1, /expected/],
    ['ro /srv\nrw /missing/x', 2, /does not exist/],
    ['ro /home/me/.ssh', 1, /"\.ssh"/],
    ['rw /', 1, /whole file system/],
  ])('any bad line voids the whole file: %j', (text, line, message) => {
    const { roots, errors } = parseAllowlist(text, '/cfg', exists);
    expect(roots).toEqual([]);
    expect(errors[0]).toMatchObject({ file: '/cfg', line });
    expect(errors[0]!.message).toMatch(message);
  });
});

describe('the allowlist file and resolveMounts (real files and symlinks)', () => {
  let dir: string;
  let allowlist: string;
  let tenants: string;
  let shared: string;
  let readonlyRoot: string;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'warren-')));
    tenants = join(dir, 'tenants');
    shared = join(dir, 'shared');
    readonlyRoot = join(dir, 'data');
    mkdirSync(join(tenants, 'acme/home'), { recursive: true });
    mkdirSync(join(tenants, 'other/home'), { recursive: true });
    mkdirSync(join(shared, 'team'), { recursive: true });
    mkdirSync(join(readonlyRoot, 'sets'), { recursive: true });
    mkdirSync(join(dir, 'secret-home/.ssh'), { recursive: true });
    mkdirSync(join(dir, 'config'));
    allowlist = join(dir, 'config/mount-allowlist');
    writeFileSync(allowlist, `ro ${readonlyRoot}\nrw ${shared}\n`, { mode: 0o600 });
    chmodSync(allowlist, 0o600);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const resolve = (requests: unknown) => resolveMounts(requests, { allowlistFile: allowlist, forbidden: [tenants] });

  it('allows requests under the roots, read-write only where allowed', () => {
    const r = resolve([
      { host: join(readonlyRoot, 'sets'), container: '/data/sets' },
      { host: join(shared, 'team'), container: '/shared', readonly: false },
    ]);
    expect(r.errors).toEqual([]);
    expect(r.denied).toEqual([]);
    expect(r.mounts).toEqual([
      { source: join(readonlyRoot, 'sets'), target: '/data/sets', readonly: true },
      { source: join(shared, 'team'), target: '/shared', readonly: false },
    ]);
  });

  it('resolves symlinks before checking: a link inside a root pointing out is denied', () => {
    symlinkSync(join(tenants, 'other/home'), join(shared, 'escape'));
    symlinkSync(join(dir, 'secret-home/.ssh'), join(shared, 'keys'));
    symlinkSync('/etc', join(readonlyRoot, 'etc'));
    symlinkSync(join(dir, 'secret-home'), join(readonlyRoot, 'innocent'));
    const r = resolve([
      { host: join(shared, 'escape'), container: '/a' },
      { host: join(shared, 'keys'), container: '/b' },
      { host: join(readonlyRoot, 'etc'), container: '/c' },
      { host: join(shared, '..', 'tenants'), container: '/d' },
      { host: join(readonlyRoot, 'innocent', '.ssh'), container: '/e' },
    ]);
    expect(r.mounts).toEqual([]);
    expect(r.denied).toHaveLength(5);
    expect(r.denied[0]).toMatch(/is or holds .*tenants/);
    expect(r.denied[1]).toMatch(/\.ssh/);
    expect(r.denied[2]).toMatch(/resolves to \/etc, which is under no root/);
    expect(r.denied[3]).toMatch(/is or holds .*tenants/);
    expect(r.denied[4]).toMatch(/\.ssh/);
  });

  it('a symlink inside a root to another allowed place is followed to its real path', () => {
    symlinkSync(join(shared, 'team'), join(readonlyRoot, 'team-link'));
    const r = resolve([{ host: join(readonlyRoot, 'team-link'), container: '/team', readonly: false }]);
    // the real path is under the rw root, so rw is allowed, and Docker binds the real path
    expect(r.mounts).toEqual([{ source: join(shared, 'team'), target: '/team', readonly: false }]);
  });

  it('never mounts the Docker socket, even under an allowed root', () => {
    writeFileSync(allowlist, 'ro /var/run\n');
    const r = resolve([{ host: '/var/run/docker.sock', container: '/sock' }, { host: '/var/run', container: '/r' }]);
    expect(r.mounts).toEqual([]);
    expect(r.denied.join('\n')).toMatch(/docker\.sock/);
    expect(r.denied[1]).toMatch(/is or holds .*docker\.sock/);
  });

  it('rejects duplicate and nested container paths', () => {
    const r = resolve([
      { host: join(readonlyRoot, 'sets'), container: '/data' },
      { host: join(shared, 'team'), container: '/data' },
      { host: join(shared, 'team'), container: '/data/inner' },
    ]);
    expect(r.mounts).toHaveLength(1);
    expect(r.denied[0]).toMatch(/already used/);
    expect(r.denied[1]).toMatch(/nested/);
  });

  it.each<[string, () => void, RegExp]>([
    ['missing', () => rmSync(allowlist), /missing; no extra mounts/],
    ['writable by others', () => chmodSync(allowlist, 0o666), /writable by group or others/],
    ['a symlink', () => { rmSync(allowlist); symlinkSync(join(dir, 'elsewhere'), allowlist); }, /not a regular file/],
    ['broken', () => writeFileSync(allowlist, `ro ${readonlyRoot}\nrw\n`), /:2: expected "ro \/path"/],
  ])('a %s allowlist means no extra mounts, reported with file:line', (_name, breakIt, message) => {
    breakIt();
    const r = resolve([{ host: join(readonlyRoot, 'sets'), container: '/data' }]);
    expect(r.mounts).toEqual([]);
    expect(r.errors.length).toBeGreaterThan(0);
    expect(formatConfigError(r.errors[0]!)).toMatch(message);
    expect(r.errors[0]!.file).toBe(allowlist);
  });

  it('an allowlist inside the tenant tree is not trusted at all', () => {
    const inside = join(tenants, 'acme/home/mount-allowlist');
    writeFileSync(inside, `rw ${dir}\n`, { mode: 0o600 });
    const r = resolveMounts([{ host: join(shared, 'team'), container: '/t' }], { allowlistFile: inside, forbidden: [tenants] });
    expect(r.mounts).toEqual([]);
    expect(r.errors[0]!.message).toMatch(/where agents live/);
  });

  it('no requests: no file needed, nothing reported', () => {
    rmSync(allowlist);
    expect(resolve(undefined)).toEqual({ mounts: [], denied: [], errors: [] });
    expect(resolve([])).toEqual({ mounts: [], denied: [], errors: [] });
  });

  it('loadAllowlist realpaths the roots', () => {
    symlinkSync(shared, join(dir, 'shared-link'));
    writeFileSync(allowlist, `rw ${join(dir, 'shared-link')}\n`);
    expect(loadAllowlist(allowlist).roots).toEqual([{ mode: 'rw', path: shared, line: 1 }]);
  });

  it('takes its default location from WARREN_MOUNT_ALLOWLIST, else ~/.config/warren', () => {
    expect(defaultAllowlistPath({ WARREN_MOUNT_ALLOWLIST: '/etc/warren-mounts' })).toBe('/etc/warren-mounts');
    expect(defaultAllowlistPath({})).toMatch(/\.config\/warren\/mount-allowlist$/);
  });
});
