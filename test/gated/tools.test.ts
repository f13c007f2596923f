// What the tools do, beyond whether they are allowed.
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { silentLogger } from '../../core/log.js';
import { Gated } from '../../gated/broker.js';
import { hashToken } from '../../gated/tools/tokens.js';
import { TOOLS } from '../../gated/tools/index.js';
import { ALL_TOOLS } from '../../core/grants/defaults.js';
import { TOOL_ARGS } from '../../core/grants/tool-args.js';
import { MAX_RULES_TEXT_BYTES } from '../../gated/policy.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { standardTree, type TempTree } from '../helpers/tree.js';
import { useGated } from '../helpers/gated.js';
import { DISGUISED_CHAT_IDS } from '../core/grants/helpers.js';

describe('the grants parser knows every tool and argument', () => {
  it('TOOL_ARGS names exactly the tools gated serves and the keys of their input schemas', () => {
    const fromSchemas = new Map(TOOLS.map((t) => [t.name, Object.keys(t.input.shape).sort()]));
    const fromTable = new Map([...TOOL_ARGS].map(([name, args]) => [name, [...args].sort()]));
    expect(fromTable).toEqual(fromSchemas);
    expect([...TOOL_ARGS.keys()].sort()).toEqual([...ALL_TOOLS].sort());
  });
});

describe('tools/list stays small whatever the grants file holds', () => {
  const lines = Array.from({ length: 15_000 }, (_, i) => `!send_message(chat=tg:${100_000 + i})\n!*(chat=slack:c${100_000 + i})`);
  const f = useGated({ before: (tree) => tree.write('acme/grants', `${lines.join('\n')}\n`) });

  it('cuts each tool\'s "Rules that apply" at about 2 KB, says how many more, and whoami still lists them all', async () => {
    expect(readFileSync(join(f.tree.tenants, 'acme/grants')).length).toBeGreaterThan(700_000);
    const client = await connectClient(f.gated.socketPath('acme'));
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(10);
    expect(Buffer.byteLength(JSON.stringify(tools))).toBeLessThan(tools.length * 4096);
    for (const tool of tools) {
      const rulesText = tool.description!.split('Rules that apply: ')[1]!;
      expect(Buffer.byteLength(rulesText)).toBeLessThan(MAX_RULES_TEXT_BYTES + 100);
    }
    const send = tools.find((t) => t.name === 'send_message')!.description!;
    const shown = send.split('Rules that apply: ')[1]!.split('; ');
    const more = Number(/^and (\d+) more rules \(whoami lists them all\)$/.exec(shown.at(-1)!)?.[1]);
    expect(shown.length - 1 + more).toBe(1 + 30_000); // the tier default, then every rule of the file
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect((who.structuredContent as { rules: string[] }).rules.length).toBeGreaterThan(30_000);
    await client.close();
  });
});

describe('gated tools', () => {
  let tree: TempTree;
  let gated: Gated;
  let acme: Client;
  let support: Client;
  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) => {
    const r = await c.callTool({ name, arguments: args });
    return { error: r.isError === true, text: textOf(r), data: r.structuredContent as any };
  };

  beforeAll(async () => {
    tree = standardTree();
    tree.write('acme/home/ok.txt', 'fine');
    tree.write('acme/support/home/secret.txt', 'not for acme');
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    acme = await connectClient(gated.socketPath('acme'));
    support = await connectClient(gated.socketPath('acme/support'));
  });
  afterAll(async () => {
    await acme.close();
    await support.close();
    await gated.stop();
    tree.cleanup();
  });

  it('delegate_group queues work in the child inbox and returns a handle at once', async () => {
    const r = await call(acme, 'delegate_group', { group: '/acme/support/', prompt: 'triage ticket 7' });
    expect(r.error).toBe(false);
    expect(r.data.handle).toMatch(/^dlg_/);
    expect(r.data.depth).toBe(1);
    const row = gated.db.prepare(`SELECT * FROM messages WHERE tenant = 'acme/support' AND ref = ?`).get(r.data.handle) as any;
    expect(row.text).toBe('triage ticket 7');
    expect(row.kind).toBe('delegation');
    expect(row.sender).toBe('acme');
  });

  it('caps delegation depth from the run record, never from arguments', async () => {
    const run = { id: 'run-deep', topic: 'main', chat: null, depth: 3 };
    const sock = await gated.openRunSocket('acme', run);
    const c = await connectClient(sock.socketPath);
    const r = await call(c, 'delegate_group', { group: 'acme/support', prompt: 'again', depth: 0 });
    expect(r.text).toMatch(/invalid arguments/); // no depth argument exists to lie with
    const r2 = await call(c, 'delegate_group', { group: 'acme/support', prompt: 'again' });
    expect(r2.error).toBe(true);
    expect(r2.text).toMatch(/depth limit reached \(3\)/);
    await c.close();
    await sock.close();
    expect(existsSync(sock.socketPath)).toBe(false);
  });

  it('escalate_group goes to the parent only', async () => {
    const r = await call(support, 'escalate_group', { prompt: 'need approval' });
    expect(r.error).toBe(false);
    const row = gated.db.prepare(`SELECT * FROM delegations WHERE id = ?`).get(r.data.handle) as any;
    expect(row.to_tenant).toBe('acme');
    expect(row.kind).toBe('escalate');
  });

  it('observation is read-only and only moves forward', async () => {
    expect((await call(acme, 'observe_group', { source: 'acme/support' })).error).toBe(false);
    gated.store.addMessage({ tenant: 'acme/support', kind: 'chat', chat: 'tg:5', sender: 'bob', text: 'printer on fire' });
    const first = await call(acme, 'read_observed', { source: 'acme/support' });
    expect(first.data.messages['acme/support'].map((m: any) => m.text)).toEqual(['printer on fire']);
    const second = await call(acme, 'read_observed', { source: 'acme/support' });
    expect(second.data.messages['acme/support']).toEqual([]);
    const supportMessages = gated.db.prepare(`SELECT COUNT(*) AS n FROM outbox WHERE tenant = 'acme/support'`).get() as any;
    expect(supportMessages.n).toBe(0);
  });

  it('issue_token returns the secret once and stores only its hash', async () => {
    const r = await call(acme, 'issue_token', { kind: 'invite', target: 'acme/support', ttl: 600 });
    expect(r.data.secret).toMatch(/^wrn_/);
    const row = gated.db.prepare(`SELECT * FROM tokens WHERE id = ?`).get(r.data.id) as any;
    expect(row.hash).toBe(hashToken(r.data.secret));
    expect(JSON.stringify(row)).not.toContain(r.data.secret);
    const listed = await call(acme, 'list_tokens');
    expect(listed.text).not.toContain(r.data.secret);
    expect((await call(acme, 'revoke_token', { id: r.data.id })).error).toBe(false);
    expect((await call(acme, 'revoke_token', { id: r.data.id })).error).toBe(true);
    const outside = await call(acme, 'issue_token', { kind: 'invite', target: 'globex', ttl: 600 });
    expect(outside.text).toMatch(/can only target your own group or a descendant/);
  });

  it('issue_token(kind=webhook) targets hook:<name>, issues an HMAC key on request, and keeps a hook chat to its subtree', async () => {
    const plain = await call(acme, 'issue_token', { kind: 'webhook', target: 'Deploys', ttl: 600 });
    expect(plain.data).toMatchObject({ kind: 'webhook', target: 'hook:deploys' });
    expect(plain.data.hmac_key).toBeUndefined();
    const signed = await call(acme, 'issue_token', { kind: 'webhook', target: 'hook:deploys', ttl: 600, hmac: true });
    expect(signed.data.hmac_key).toMatch(/^whs_/);
    const row = gated.db.prepare(`SELECT * FROM tokens WHERE id = ?`).get(signed.data.id) as any;
    expect(JSON.stringify(row)).not.toContain(signed.data.hmac_key);
    expect((await call(acme, 'issue_token', { kind: 'webhook', target: 'a topic', ttl: 600 })).text).toMatch(/not a webhook name/);
    expect((await call(acme, 'issue_token', { kind: 'chat_link', target: 'web:help', ttl: 600, hmac: true })).text).toMatch(/hmac applies to webhook tokens only/);
    gated.store.addToken({ id: 'tok_foreign', tenant: 'globex', kind: 'webhook', target: 'hook:theirs', hash: 'x', expiresAt: new Date() });
    expect((await call(acme, 'issue_token', { kind: 'webhook', target: 'theirs', ttl: 600 })).text).toMatch(/hook:theirs belongs to another subtree \(globex\)/);
  });

  it('routes stay within the caller subtree and never steal a foreign chat', async () => {
    gated.store.setRoute('tg:globex', 'globex', 'root');
    const steal = await call(acme, 'set_route', { chat: 'tg:globex', group: 'acme' });
    expect(steal.text).toMatch(/outside your subtree/);
    expect((await call(acme, 'set_route', { chat: 'Slack:C1', group: 'acme/support' })).data.chat).toBe('slack:c1');
    const listed = await call(acme, 'list_routes');
    expect(listed.data.routes.map((r: any) => r.chat)).toEqual(['slack:c1']);
  });

  it('grant gives a descendant a subset of what the caller holds, and edits its grants file visibly', async () => {
    const tooMuch = await call(acme, 'grant', { group: 'acme/support', rule: 'grant' });
    expect(tooMuch.error).toBe(false); // acme holds grant itself, so it may pass it on
    const notHeld = await call(acme, 'grant', { group: 'acme/support', rule: 'shell_exec' });
    expect(notHeld.text).toMatch(/cannot grant "shell_exec": unknown tool "shell_exec"/);
    const file = readFileSync(join(tree.tenants, 'acme/support/grants'), 'utf8');
    expect(file).toMatch(/^grant {2}# granted by acme /m);
    const who = await call(support, 'whoami');
    expect(who.data.rules.join('\n')).toMatch(/grant/);
    expect((await call(acme, 'revoke', { group: 'acme/support', rule: 'grant' })).error).toBe(false);
    expect(readFileSync(join(tree.tenants, 'acme/support/grants'), 'utf8')).not.toMatch(/granted by/);
  });

  it.each(DISGUISED_CHAT_IDS)('a chat id with a %s is refused by every tool that takes one', async (_label, id, names) => {
    const outbox = () => (gated.db.prepare(`SELECT COUNT(*) AS n FROM outbox`).get() as { n: number }).n;
    const before = outbox();
    for (const [tool, args] of [
      ['send_message', { chat: id, text: 'hi' }],
      ['send_file', { chat: id, path: 'ok.txt' }],
      ['set_route', { chat: id, group: 'acme/support' }],
    ] as const) {
      const r = await call(acme, tool, args);
      expect(r.error).toBe(true);
      expect(r.text).toMatch(new RegExp(`^invalid arguments for ${tool}: chat: `));
      expect(r.text).toMatch(names);
    }
    const token = await call(acme, 'issue_token', { kind: 'chat_link', target: id, ttl: 60 });
    expect(token.text).toMatch(/^issue_token failed: ".*" is not a valid chat id: it /s);
    expect(token.text).toMatch(names);
    expect(outbox()).toBe(before);
    expect(gated.store.route(id.toLowerCase())).toBeFalsy();
  });

  it('grant refuses a misspelt tool or argument with a suggestion, and writes nothing', async () => {
    const file = join(tree.tenants, 'acme/support/grants');
    const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const tool = await call(acme, 'grant', { group: 'acme/support', rule: '!send_mesage' });
    expect(tool).toMatchObject({ error: true });
    expect(tool.text).toBe('grant failed: cannot grant "!send_mesage": unknown tool "send_mesage" (did you mean "send_message"?)');
    const arg = await call(acme, 'grant', { group: 'acme/support', rule: '!send_message(chanel=tg:1)' });
    expect(arg.text).toBe(
      'grant failed: cannot grant "!send_message(chanel=tg:1)": send_message has no argument "chanel" (did you mean "chat"?) (its arguments: chat, text)',
    );
    expect(existsSync(file) ? readFileSync(file, 'utf8') : '').toBe(before);
  });

  it('grant refuses to grow a grants file towards its size limit', async () => {
    const file = join(tree.tenants, 'acme/support/triage/grants');
    writeFileSync(file, `# ${'x'.repeat(256 * 1024 - 50)}\n`);
    const r = await call(acme, 'grant', { group: 'acme/support/triage', rule: 'like' });
    expect(r.error).toBe(true);
    expect(r.text).toMatch(/cannot grant "like": .* is full/);
  });

  it('structured results lead with what the text says, so clients that read only structuredContent see it', async () => {
    const delegated = await call(acme, 'delegate_group', { group: 'acme/support', prompt: 'check the printer' });
    expect(delegated.data.message).toBe(delegated.text);
    expect(delegated.data.message).toMatch(/^delegated to acme\/support as dlg_.*its result will arrive in your inbox$/);
    expect(delegated.data.handle).toMatch(/^dlg_/);
    const observed = await call(acme, 'read_observed');
    expect(observed.data.message).toMatch(/^\d+ new message\(s\)$/); // the first line only: the messages are in the data
    const listed = await call(acme, 'list_groups');
    expect(listed.data.message).toBeUndefined(); // the text is the data as JSON already
  });

  it('create_group makes a direct child with a PERSONA.md that is live at once', async () => {
    const r = await call(acme, 'create_group', { name: 'billing', persona: 'You handle invoices.' });
    expect(r.data.group).toBe('acme/billing');
    expect(readFileSync(join(tree.tenants, 'acme/billing/PERSONA.md'), 'utf8')).toMatch(/You handle invoices/);
    expect(gated.registry.config('acme/billing')).not.toBeNull();
    expect((await call(acme, 'create_group', { name: 'Bad Name' })).text).toMatch(/^denied/);
    expect((await call(acme, 'create_group', { name: 'billing' })).text).toMatch(/already exists/);
  });

  it('send_file takes only regular files inside the home and copies them out of reach', async () => {
    const ok = await call(acme, 'send_file', { path: '/home/node/ok.txt', chat: 'tg:1' });
    expect(ok.error).toBe(false);
    const row = gated.db.prepare(`SELECT file_path FROM outbox WHERE id = ?`).get(ok.data.outbox_id) as any;
    expect(readFileSync(row.file_path, 'utf8')).toBe('fine');
    expect(row.file_path.startsWith(tree.data)).toBe(true);
    expect((await call(acme, 'send_file', { path: '../support/home/secret.txt', chat: 'tg:1' })).error).toBe(true);
    symlinkSync(join(tree.tenants, 'acme/support/home/secret.txt'), join(tree.tenants, 'acme/home/link.txt'));
    const viaLink = await call(acme, 'send_file', { path: 'link.txt', chat: 'tg:1' });
    expect(viaLink.error).toBe(true);
    writeFileSync(join(tree.tenants, 'acme/home/.x'), '');
    expect((await call(acme, 'send_file', { path: '/etc/passwd', chat: 'tg:1' })).error).toBe(true);
  });

  it('fork_topic copies the session state of the parent topic, recorded as the one to fork', async () => {
    gated.store.createTopic('acme', 'research', null, 'session-123');
    expect((await call(acme, 'fork_topic', { parent: 'research', child: 'research-b' })).error).toBe(false);
    // The child's first turn forks that session (gateway/turn-plan.ts sessionFor); the parent keeps resuming its own.
    expect(gated.store.topic('acme', 'research-b')).toMatchObject({ session: 'session-123', forked_from: 'session-123' });
    expect(gated.store.topic('acme', 'research')).toMatchObject({ session: 'session-123', forked_from: null });
    expect((await call(acme, 'fork_topic', { parent: 'nope', child: 'x' })).text).toMatch(/does not exist/);
    // A conversation's topic exists as soon as it has messages, before any session was saved for it.
    gated.store.addMessage({ tenant: 'acme', topic: 'tg:77', kind: 'chat', chat: 'tg:77', sender: 'zoe', text: 'hi' });
    expect((await call(acme, 'fork_topic', { parent: 'tg:77', child: 'tg:77-side' })).error).toBe(false);
    expect((await call(acme, 'fork_topic', { parent: 'main', child: 'tg:77' })).text).toMatch(/already exists/);
  });

  it('audits every call with shape and digest, never raw values', async () => {
    await call(acme, 'send_message', { chat: 'tg:1', text: 'the launch code is 0000-SWORDFISH' });
    const [row] = gated.audit.query({ tenant: 'acme', limit: 1 });
    expect(row!.tool).toBe('send_message');
    expect(JSON.parse(row!.args_shape)).toEqual({ chat: 'string', text: 'string' });
    expect(row!.args_digest).toMatch(/^[0-9a-f]{64}$/);
    const dump = JSON.stringify(gated.audit.db.prepare('SELECT * FROM audit').all());
    expect(dump).not.toContain('SWORDFISH');
  });
});

describe('handing work on', () => {
  const f = useGated();
  it('caps the delegations and escalations one turn may make', async () => {
    const sock = await f.gated.openRunSocket('acme', { id: 'busy', topic: 'main', chat: null, depth: 0 });
    const c = await connectClient(sock.socketPath);
    for (let i = 0; i < 10; i++) {
      const r = await c.callTool({ name: 'delegate_group', arguments: { group: 'acme/support', prompt: `job ${i}` } });
      expect(r.isError).not.toBe(true);
    }
    const eleventh = await c.callTool({ name: 'escalate_group', arguments: { prompt: 'and this' } });
    expect(textOf(eleventh)).toMatch(/already handed on 10 pieces of work/);
    await c.close();
    await sock.close();
  });
});

describe('virtual hosts', () => {
  let tree: TempTree;
  let gated: Gated;
  const clients: Client[] = [];
  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) => {
    const r = await c.callTool({ name, arguments: args });
    return { error: r.isError === true, text: textOf(r), data: r.structuredContent as any };
  };
  const as = async (tenant: string) => {
    const c = await connectClient(gated.socketPath(tenant));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    tree = standardTree();
    // An operator who grants acme set_vhost still does not hand it host names; list_vhosts it may have.
    tree.write('acme/grants', 'set_vhost\nremove_vhost\nlist_vhosts\n');
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    await gated.stop();
    tree.cleanup();
  });

  it('root sets, lists and removes them; each change is audited', async () => {
    const root = await as('root');
    const set = await call(root, 'set_vhost', { host: 'Reports.Acme.Example.', group: 'acme/support' });
    expect(set.error).toBe(false);
    expect(set.data).toMatchObject({ host: 'reports.acme.example', group: 'acme/support', publishes: false });
    expect(gated.store.vhost('reports.acme.example')).toBe('acme/support');
    await call(root, 'set_vhost', { host: 'globex.example', group: 'globex' });
    const listed = await call(root, 'list_vhosts');
    expect(listed.data.vhosts.map((v: any) => [v.host, v.tenant, v.created_by])).toEqual([
      ['globex.example', 'globex', 'root'],
      ['reports.acme.example', 'acme/support', 'root'],
    ]);
    expect((await call(root, 'remove_vhost', { host: 'globex.example' })).data.removed).toBe(true);
    expect(gated.store.vhost('globex.example')).toBeUndefined();
    await gated.audit.flush();
    const audited = gated.audit.db
      .prepare("SELECT tool FROM audit WHERE tenant = 'root' AND tool IN ('set_vhost', 'remove_vhost') ORDER BY id")
      .pluck()
      .all();
    expect(audited).toEqual(['set_vhost', 'set_vhost', 'remove_vhost']);
  });

  it('refuses host names that are not one, IP addresses, and tenants that do not exist', async () => {
    const root = await as('root');
    for (const host of ['localhost', '127.0.0.1', 'a..example', 'bad_host.example', '-x.example', 'a.example:80']) {
      const r = await call(root, 'set_vhost', { host, group: 'acme' });
      expect(r.error, host).toBe(true);
    }
    expect((await call(root, 'set_vhost', { host: 'x.example', group: 'nobody' })).text).toMatch(/does not exist/);
    expect(gated.store.vhost('x.example')).toBeUndefined();
  });

  it('a world cannot set or remove one even when granted; by default a team cannot even list', async () => {
    const acme = await as('acme');
    const set = await call(acme, 'set_vhost', { host: 'mine.example', group: 'acme' });
    expect(set.error).toBe(true);
    expect(set.text).toMatch(/only root/);
    expect(gated.store.vhost('mine.example')).toBeUndefined();
    expect((await call(acme, 'remove_vhost', { host: 'reports.acme.example' })).error).toBe(true);
    expect(gated.store.vhost('reports.acme.example')).toBe('acme/support');
    const support = await as('acme/support');
    expect((await call(support, 'set_vhost', { host: 'mine.example', group: 'acme/support' })).error).toBe(true);
    expect((await call(support, 'list_vhosts')).error).toBe(true);
  });

  it('a world granted list_vhosts sees its own subtree only', async () => {
    gated.store.setVhost('globex.example', 'globex', 'root');
    const acme = await as('acme');
    const listed = await call(acme, 'list_vhosts');
    expect(listed.data.vhosts.map((v: any) => v.host)).toEqual(['reports.acme.example']);
  });
});
