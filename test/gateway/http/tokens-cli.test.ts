// `warren tokens issue|list|revoke` against the server: a token issued by the CLI reaches its subtree only, is shown
// once and stored as a hash, and stops working when revoked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warrenAsync } from '../../helpers/cli.js';
import { startApi, type ApiFixture } from '../../helpers/http-api.js';
import { standardTree, type TempTree } from '../../helpers/tree.js';

let tree: TempTree;
let api: ApiFixture;
beforeAll(async () => {
  tree = standardTree();
  api = await startApi(tree, { secrets: false });
});
afterAll(async () => {
  await api?.stop();
  tree?.cleanup();
});

const status = async (path: string, token: string) => (await fetch(api.url + path, { headers: { authorization: `Bearer ${token}` } })).status;

describe('warren tokens', () => {
  it('issues a read token for a subtree, lists it without its secret, and revokes it', async () => {
    const common = ['--tenants', tree.tenants, '--data', tree.data];
    const issued = await warrenAsync(['tokens', 'issue', '--scope', 'acme/support', '--read', '--ttl', '7d', ...common]);
    expect(issued.status, issued.stderr).toBe(0);
    const token = issued.stdout.split('\n')[0]!;
    const id = /id (tk_[0-9a-f]+)/.exec(issued.stdout)![1]!;
    expect(token).toMatch(/^wtk_/);
    expect(issued.stdout).toMatch(/read on acme\/support and below, expires /);

    expect(await status('/v1/tenants/acme.support.triage', token)).toBe(200);
    expect(await status('/v1/tenants/acme', token)).toBe(403);

    const listed = await warrenAsync(['tokens', 'list', ...common]);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(token);
    expect(readFileSync(join(tree.data, 'warren.db')).includes(token)).toBe(false);

    expect((await warrenAsync(['tokens', 'revoke', id, ...common])).status).toBe(0);
    expect(await status('/v1/tenants/acme.support', token)).toBe(401);
    expect((await warrenAsync(['tokens', 'revoke', id, ...common])).status).toBe(1);
  });

  it('refuses a bad scope or ttl as a usage error', async () => {
    const common = ['--tenants', tree.tenants, '--data', tree.data];
    expect((await warrenAsync(['tokens', 'issue', '--scope', 'Acme!', ...common])).status).toBe(2);
    expect((await warrenAsync(['tokens', 'issue', '--scope', 'acme', '--ttl', 'forever', ...common])).status).toBe(2);
    expect((await warrenAsync(['tokens', 'issue', ...common])).status).toBe(2);
  });
});
