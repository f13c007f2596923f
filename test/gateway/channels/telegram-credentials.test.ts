// A world's Telegram bot token: sealed at rest beside tenant secrets but apart from them, never in a run's
// environment or `warren secrets list`, and readable only through credentialFor for the gateway's adapters.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeEach, describe, expect, it } from 'vitest';
import { channelCredentials } from '../../../gateway/channels/credentials.js';
import { channelsToken } from '../../../gateway/cli/channels-token.js';
import { gatewaySecrets } from '../../../gateway/secrets.js';
import { warren as cli } from '../../helpers/cli.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';

const TOKEN = '987654321:AAHk3vF9-secretTokenValue_xyz012345';
const silent = pino({ level: 'silent' });

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('warren channels token', () => {
  let tree: TempTree;
  const common = () => ['--tenants', tree.tenants, '--data', tree.data];

  beforeEach(() => {
    tree = tempTree({ 'acme/PERSONA.md': '---\nharness: script\n---\n', 'acme/support/PERSONA.md': '---\nharness: script\n---\n' });
    expect(cli(['secrets', 'init', ...common()]).status).toBe(0);
    expect(cli(['secrets', 'set', 'acme', 'API_KEY', ...common()], { input: 'tenant-secret-value' }).status).toBe(0);
  });

  it('seals the token: listed by name only, never a tenant secret, never in a run, not in any file under DATA', () => {
    const set = cli(['channels', 'token', 'acme', 'telegram', ...common()], { input: TOKEN });
    expect(set.stderr).toBe('');
    expect(set.status).toBe(0);
    expect(set.stdout).not.toContain(TOKEN);

    const list = cli(['channels', 'token', 'acme', ...common()]);
    expect(list.stdout).toMatch(/^telegram\s/);
    expect(list.stdout).not.toContain(TOKEN);
    const secrets = cli(['secrets', 'list', ...common()]);
    expect(secrets.stdout).toContain('API_KEY');
    expect(secrets.stdout).not.toMatch(/telegram/i);

    for (const file of filesUnder(tree.data)) {
      const bytes = readFileSync(file);
      expect(bytes.includes(Buffer.from(TOKEN)), file).toBe(false);
      expect(bytes.includes(Buffer.from('secretTokenValue')), file).toBe(false);
    }

    const runs = gatewaySecrets(tree.data, silent, {});
    try {
      for (const tenant of ['acme', 'acme/support']) {
        const env = runs.forRun(tenant, undefined);
        expect(env).toEqual({ API_KEY: 'tenant-secret-value' });
        expect(JSON.stringify(env)).not.toContain(TOKEN);
      }
    } finally {
      runs.close();
    }

    const creds = channelCredentials(tree.data, silent, { env: {} });
    try {
      expect(creds.credentialFor('acme', 'telegram')).toBe(TOKEN);
      expect(creds.credentialFor('other', 'telegram')).toBeNull();
      expect(creds.worldsWith('telegram')).toEqual(['acme']);
    } finally {
      creds.close();
    }
  });

  it('survives key rotation, and --remove deletes it', () => {
    expect(cli(['channels', 'token', 'acme', 'telegram', ...common()], { input: TOKEN + '\n' }).status).toBe(0);
    const rotated = cli(['secrets', 'rotate', ...common()]);
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toMatch(/re-sealed 2 secret/);
    const creds = () => channelCredentials(tree.data, silent, { env: {} });
    const before = creds();
    expect(before.credentialFor('acme', 'telegram')).toBe(TOKEN);
    before.close();

    expect(cli(['channels', 'token', 'acme', 'telegram', '--remove', ...common()]).status).toBe(0);
    const after = creds();
    expect(after.credentialFor('acme', 'telegram')).toBeNull();
    after.close();
    expect(cli(['channels', 'token', 'acme', 'telegram', '--remove', ...common()]).status).toBe(1);
  });

  it.each([
    ['a token on the command line', ['acme', 'telegram', TOKEN], '', 2],
    ['a tenant below a world', ['acme/support', 'telegram'], TOKEN, 2],
    ['an unknown credential', ['acme', 'slack'], TOKEN, 2],
    ['something that is not a bot token', ['acme', 'telegram'], 'hello', 1],
    ['empty input', ['acme', 'telegram'], '', 1],
  ])('refuses %s and stores nothing', (_what, args, input, status) => {
    const r = cli(['channels', 'token', ...args, ...common()], { input });
    expect(r.status).toBe(status);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(cli(['channels', 'token', 'acme', ...common()]).stdout).toMatch(/no channel credentials/);
  });

  it('refuses to prompt on a terminal: the token must be piped', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true });
    let err = '';
    const stderr = new Writable({ write: (c, _e, done) => ((err += String(c)), done()) });
    const code = await channelsToken(['acme', 'telegram'], { tenants: tree.tenants, data: tree.data }, { stdin, stdout: stderr, stderr, env: {} });
    expect(code).toBe(1);
    expect(err).toMatch(/printf %s "\$TOKEN" \| warren channels token acme telegram/);
  });
});
