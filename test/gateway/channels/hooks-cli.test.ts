// `warren hooks`: the operator's webhook tokens, issued by the built CLI into the same warren.db a running server
// redeems them from.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signBody } from '../../../gateway/channels/webhook.js';
import { warrenAsync } from '../../helpers/cli.js';
import { startChannelServer, type ChannelServer } from './helpers.js';

describe('warren hooks', () => {
  let s: ChannelServer;
  beforeEach(async () => {
    s = await startChannelServer();
    s.wiring.set('hook:ci', 'acme');
  });
  afterEach(() => s.close());

  const hooks = (...args: string[]) => warrenAsync(['hooks', ...args, '--tenants', s.tree.tenants, '--data', s.tree.data]);

  it('issue prints a working URL and HMAC key once; list shows it; revoke makes it 404', async () => {
    const issued = await hooks('issue', 'acme', 'ci', '--ttl', '600', '--hmac');
    expect(issued.stderr).toBe('');
    expect(issued.status).toBe(0);
    const secret = /\/hook\/(wrn_[A-Za-z0-9_-]{43})\n/.exec(issued.stdout)![1]!;
    const key = /HMAC key \(X-Hub-Signature-256\): (whs_\S+)\n/.exec(issued.stdout)![1]!;
    const id = /^webhook (tok_[0-9a-f]{8}) for acme on hook:ci, expires /.exec(issued.stdout)![1]!;
    const post = (sig?: string) =>
      fetch(`${s.url}/hook/${secret}`, { method: 'POST', headers: { 'content-type': 'text/plain', ...(sig ? { 'x-hub-signature-256': sig } : {}) }, body: 'green' });
    expect((await post()).status).toBe(401);
    expect((await post(signBody(key, 'green'))).status).toBe(202);

    const listed = await hooks('list');
    expect(listed.stdout).toMatch(new RegExp(`^${id}  acme  hook:ci  expires `));
    expect(listed.stdout).not.toContain(secret);

    expect((await hooks('revoke', id)).stdout).toBe(`revoked ${id} (hook:ci)\n`);
    expect((await post(signBody(key, 'green'))).status).toBe(404);
    expect((await hooks('list')).stdout).toMatch(/hook:ci  revoked /);
    expect(s.db.prepare(`SELECT text FROM messages WHERE chat = 'hook:ci'`).all()).toEqual([{ text: 'green' }]);
  }, 60_000);

  it('refuses an unknown tenant, a bad name, a bad ttl and a foreign hook chat, storing no token', async () => {
    s.hook('globex', 'ci');
    const cases = await Promise.all([
      hooks('issue', 'nobody', 'ci'),
      hooks('issue', 'acme', 'no spaces'),
      hooks('issue', 'acme', 'ok', '--ttl', '5'),
      hooks('issue', 'acme', 'ci'),
      hooks('revoke', 'tok_nope'),
    ]);
    expect(cases.map((c) => c.status)).toEqual([1, 2, 2, 2, 1]);
    expect(cases[0]!.stderr).toMatch(/no tenant nobody/);
    expect(cases[1]!.stderr).toMatch(/not a webhook name/);
    expect(cases[2]!.stderr).toMatch(/--ttl takes whole seconds/);
    expect(cases[3]!.stderr).toMatch(/hook:ci belongs to another subtree \(globex\)/);
    expect(cases[4]!.stderr).toMatch(/no webhook token tok_nope/);
    expect(s.db.prepare(`SELECT tenant FROM tokens`).all()).toEqual([{ tenant: 'globex' }]);
  }, 60_000);
});
