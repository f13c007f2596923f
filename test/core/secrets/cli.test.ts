// End to end: the real `warren secrets` binary from dist/, spawned with real files in a temp DATA dir.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readKeyFile } from '../../../core/secrets/key-source.js';
import { SecretStore } from '../../../core/secrets/store.js';
import { storeBytes, tempDir } from './helpers.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(repo, 'dist/cli/warren.js');

/** Builds dist/ when any source this test runs is newer than its output (tsc emits even if others' files have errors). */
function ensureBuilt(): void {
  const sources = [
    ...fs.readdirSync(path.join(repo, 'core/secrets')).map((f) => `core/secrets/${f}`),
    'cli/warren.ts',
    'core/command.ts',
    'cli/commands.ts',
    'core/tenant-path.ts',
    'core/db.ts',
    'core/log.ts',
  ].filter((f) => f.endsWith('.ts'));
  const stale = sources.some((src) => {
    const out = path.join(repo, 'dist', src.replace(/\.ts$/, '.js'));
    return !fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(path.join(repo, src)).mtimeMs;
  });
  if (stale) spawnSync(process.execPath, [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: repo });
  if (!fs.existsSync(path.join(repo, 'dist/core/secrets/cli.js'))) throw new Error('dist/ was not built');
}

let dir: string;
let data: string;
let tenants: string;
let keyFile: string;
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WARREN_')));

function warren(args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, [bin, 'secrets', ...args, '--data', data, '--tenants', tenants], {
    input: opts.input ?? '',
    env: { ...cleanEnv, ...opts.env },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function valueOf(tenant: string, name: string): string | undefined {
  const store = SecretStore.open(path.join(data, 'secrets.db'), readKeyFile(keyFile));
  try {
    return store.get(tenant, name);
  } finally {
    store.close();
  }
}

beforeAll(() => {
  ensureBuilt();
  dir = tempDir();
  data = path.join(dir, 'data');
  tenants = path.join(dir, 'tenants');
  keyFile = path.join(data, 'secrets.key');
  fs.mkdirSync(path.join(tenants, 'acme', 'support'), { recursive: true });
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('warren secrets (end to end)', () => {
  it('refuses to work before init and says how to fix it', () => {
    const r = warren(['set', 'acme', 'OPENAI_API_KEY'], { input: 'sk-early\n' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no secrets key.*warren secrets init/);
  });

  it('init creates a 0600 key file once and refuses to overwrite it', () => {
    const r = warren(['init']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/created key file .*secrets\.key \(key k-[0-9a-f]{16}/);
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const before = fs.readFileSync(keyFile, 'utf8');
    const again = warren(['init']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exists; refusing to overwrite/);
    expect(fs.readFileSync(keyFile, 'utf8')).toBe(before);
  });

  it('set reads the value from stdin, stripping one newline', () => {
    const r = warren(['set', 'acme', 'OPENAI_API_KEY'], { input: 'sk-acme-e2e-canary\n' });
    expect(r.code).toBe(0);
    expect(r.out).toContain('stored OPENAI_API_KEY for acme');
    expect(r.out + r.err).not.toContain('sk-acme-e2e-canary');
    expect(valueOf('acme', 'OPENAI_API_KEY')).toBe('sk-acme-e2e-canary');
    expect(warren(['set', '/acme/support/', 'ZENDESK_TOKEN'], { input: 'zd-two-lines\n\n' }).code).toBe(0);
    expect(valueOf('acme/support', 'ZENDESK_TOKEN')).toBe('zd-two-lines\n');
  });

  it('set warns (and still stores) when the tenant folder does not exist', () => {
    const r = warren(['set', 'globex', 'API_TOKEN'], { input: 'globex-token' });
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/tenant folder .*globex does not exist/);
    expect(valueOf('globex', 'API_TOKEN')).toBe('globex-token');
  });

  it('never takes a value from argv', () => {
    const r = warren(['set', 'acme', 'ARGV_SECRET', 'sk-from-argv'], { input: 'ignored' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/never taken from the command line/);
    expect(valueOf('acme', 'ARGV_SECRET')).toBeUndefined();
  });

  it.each([
    [['set', 'acme', 'lower_case'], /not a valid name/],
    [['set', 'acme', 'PATH'], /reserved/],
    [['set', 'acme', 'WARREN_SECRETS_KEY'], /reserved/],
    [['set', 'Bad Tenant', 'GOOD'], /invalid tenant/],
    [['set', 'root/child', 'GOOD'], /invalid tenant/],
    [['set', 'acme'], /missing <NAME>/],
    [['frobnicate'], /unknown subcommand/],
    [[], /missing subcommand/],
    [['list', 'acme', 'extra'], /unexpected argument/],
  ])('usage errors exit 2: %j', (args, why) => {
    const r = warren(args, { input: 'some-value' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(why);
  });

  it('refuses an empty value', () => {
    const r = warren(['set', 'acme', 'EMPTY_ONE'], { input: '\n' });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nothing stored: the value is empty/);
  });

  it('list shows names, scope, key and time, never values', () => {
    expect(warren(['set', 'acme/support', 'OPENAI_API_KEY'], { input: 'sk-support-e2e-canary' }).code).toBe(0);
    const all = warren(['list']);
    expect(all.code).toBe(0);
    expect(all.out).toMatch(/^TENANT\s+NAME\s+KEY\s+UPDATED/);
    expect(all.out).toMatch(/acme\/support\s+ZENDESK_TOKEN\s+k-[0-9a-f]{16}\s+\d{4}-/);
    const one = warren(['list', 'acme/support']);
    expect(one.code).toBe(0);
    expect(one.out).toMatch(/OPENAI_API_KEY\s+here \(overrides acme\)/);
    expect(one.out).toMatch(/ZENDESK_TOKEN\s+here/);
    const world = warren(['list', 'acme']);
    expect(world.out).toMatch(/OPENAI_API_KEY\s+here/);
    expect(world.out).not.toContain('ZENDESK_TOKEN');
    const team = warren(['list', 'acme/support/triage']);
    expect(team.out).toMatch(/OPENAI_API_KEY\s+inherited from acme\/support/);
    for (const r of [all, one, world, team]) {
      expect(r.out).not.toMatch(/canary|zd-two-lines|globex-token/);
    }
  });

  it('refuses a key file with loose permissions, then works once fixed', () => {
    fs.chmodSync(keyFile, 0o644);
    const r = warren(['list']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/mode 644.*chmod 600/);
    fs.chmodSync(keyFile, 0o600);
    expect(warren(['list']).code).toBe(0);
  });

  it('accepts the key from WARREN_SECRETS_KEY and refuses a wrong or short one', () => {
    const key = JSON.parse(fs.readFileSync(keyFile, 'utf8')).keys[0].key as string;
    expect(warren(['list'], { env: { WARREN_SECRETS_KEY: key } }).code).toBe(0);
    const wrong = warren(['list'], { env: { WARREN_SECRETS_KEY: Buffer.alloc(32, 7).toString('base64') } });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/wrong secrets key/);
    const short = warren(['list'], { env: { WARREN_SECRETS_KEY: Buffer.alloc(16, 7).toString('base64') } });
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/decodes to 16 bytes/);
    const rot = warren(['rotate'], { env: { WARREN_SECRETS_KEY: key } });
    expect(rot.code).toBe(1);
    expect(rot.err).toMatch(/cannot rewrite/);
  });

  it('rotate re-seals everything under a new key', () => {
    const before = readKeyFile(keyFile).current;
    const r = warren(['rotate']);
    expect(r.code).toBe(0);
    const after = readKeyFile(keyFile);
    expect(after.current).not.toBe(before);
    expect([...after.keys.keys()]).toEqual([after.current]);
    expect(r.out).toContain(`re-sealed 4 secret(s) under key ${after.current} (was ${before})`);
    expect(valueOf('acme', 'OPENAI_API_KEY')).toBe('sk-acme-e2e-canary');
    expect(valueOf('acme/support', 'OPENAI_API_KEY')).toBe('sk-support-e2e-canary');
  });

  it('rm removes a secret and reports one that is only inherited', () => {
    const r = warren(['rm', 'acme/support', 'OPENAI_API_KEY']);
    expect(r.code).toBe(0);
    expect(valueOf('acme/support', 'OPENAI_API_KEY')).toBeUndefined();
    const again = warren(['rm', 'acme/support', 'OPENAI_API_KEY']);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/inherits it from acme/);
  });

  it('the store files never contain a value in plaintext', () => {
    const bytes = storeBytes(path.join(data, 'secrets.db'));
    expect(bytes.includes(Buffer.from('ZENDESK_TOKEN'))).toBe(true);
    for (const v of ['sk-acme-e2e-canary', 'sk-support-e2e-canary', 'zd-two-lines', 'globex-token']) {
      expect(bytes.includes(Buffer.from(v))).toBe(false);
    }
  });

  it('init refuses to start a new key over a store sealed under a lost one', () => {
    fs.renameSync(keyFile, keyFile + '.bak');
    try {
      const r = warren(['init']);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/already sealed under key k-.*Restore that key file/);
      expect(fs.existsSync(keyFile)).toBe(false);
    } finally {
      fs.renameSync(keyFile + '.bak', keyFile);
    }
  });
});
