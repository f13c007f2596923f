// `warren chatlinks`: the operator's web chat links, issued by the built CLI into the same warren.db a running
// server opens them from.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webChatTarget } from '../../../gateway/cli/chatlinks.js';
import { warrenAsync } from '../../helpers/cli.js';
import { startChannelServer, type ChannelServer } from './helpers.js';

describe('webChatTarget', () => {
  it.each([
    ['help', 'web:help'],
    ['web:help', 'web:help'],
    ['  Web:Acme-Help ', 'web:acme-help'],
  ])('%j -> %s', (raw, chat) => expect(webChatTarget(raw)).toBe(chat));

  it.each([['tg:123'], ['hook:ci'], ['no spaces'], ['']])('refuses %j', (raw) => expect(() => webChatTarget(raw)).toThrow());
});

describe('warren chatlinks', () => {
  let s: ChannelServer;
  beforeEach(async () => {
    s = await startChannelServer();
  });
  afterEach(() => s.close());

  const chatlinks = (...args: string[]) => warrenAsync(['chatlinks', ...args, '--tenants', s.tree.tenants, '--data', s.tree.data]);
  const open = (secret: string) => fetch(`${s.url}/chat/${secret}`, { redirect: 'manual' });

  it('issue prints a link that opens the page of that one chat; list shows it; revoke refuses it', async () => {
    const issued = await chatlinks('issue', 'acme', 'help', '--ttl', '600');
    expect(issued.stderr).toBe('');
    expect(issued.status).toBe(0);
    const id = /^chat link (tok_[0-9a-f]{8}) for acme on web:help, expires /.exec(issued.stdout)![1]!;
    const secret = /\/chat\/(wrn_[A-Za-z0-9_-]{43})\n/.exec(issued.stdout)![1]!;
    const opened = await open(secret);
    expect(opened.status).toBe(303);
    expect(opened.headers.get('set-cookie')).toMatch(/^warren_chat=/);
    expect(s.db.prepare(`SELECT tenant, kind, target FROM tokens WHERE id = ?`).get(id)).toEqual({ tenant: 'acme', kind: 'chat_link', target: 'web:help' });

    const listed = await chatlinks('list');
    expect(listed.stdout).toMatch(new RegExp(`^${id}  acme  web:help  expires `));
    expect(listed.stdout).not.toContain(secret);

    expect((await chatlinks('revoke', id)).stdout).toBe(`revoked ${id} (web:help)\n`);
    expect((await open(secret)).status).toBe(404);
    expect((await chatlinks('list')).stdout).toMatch(/web:help  revoked /);
  }, 60_000);

  it('refuses an unknown tenant, a chat that is not web:, a bad ttl and a webhook token id, storing no token', async () => {
    const hook = s.hook('acme', 'ci');
    const cases = await Promise.all([
      chatlinks('issue', 'nobody', 'help'),
      chatlinks('issue', 'acme', 'tg:123'),
      chatlinks('issue', 'acme', 'help', '--ttl', '5'),
      chatlinks('revoke', hook.id),
    ]);
    expect(cases.map((c) => c.status)).toEqual([1, 2, 2, 1]);
    expect(cases[0]!.stderr).toMatch(/no tenant nobody/);
    expect(cases[1]!.stderr).toMatch(/not a web chat/);
    expect(cases[2]!.stderr).toMatch(/--ttl takes whole seconds/);
    expect(cases[3]!.stderr).toMatch(new RegExp(`no chat link token ${hook.id}`));
    expect(s.db.prepare(`SELECT kind, revoked_at FROM tokens`).all()).toEqual([{ kind: 'webhook', revoked_at: null }]);
    expect((await chatlinks('list')).stdout).toBe('no chat link tokens\n');
  }, 60_000);
});
