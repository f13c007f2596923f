// The operator's commands: grants defaults/explain, tenants, audit, and the hygiene every command shares.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { openWarrenDb } from '../../core/warren-db.js';
import { AuditLog } from '../../gated/audit.js';
import { loadAuditKey } from '../../gated/audit-key.js';
import { Gated } from '../../gated/broker.js';
import { requireBuilt, warren, warrenAsync } from '../helpers/cli.js';
import { standardTree, tempTree, type TempTree } from '../helpers/tree.js';

describe('warren grants / tenants / audit', () => {
  let tree: TempTree;
  const common = () => ['--tenants', tree.tenants, '--data', tree.data];

  beforeAll(() => {
    tree = standardTree();
    tree.write('acme/grants', '# acme narrows its subtree\n!send_file(path=private/**)\n');
    tree.write('globex/grants', 'bad rule (\n');
  });
  afterAll(() => tree.cleanup());

  it('grants defaults lists every tier', () => {
    const r = warren(['grants', 'defaults']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/root \(tier 0\):\n {2}\*/);
    expect(r.stdout).toMatch(/send_message\(chat=\$routed\)/);
  });

  it('grants explain: exit 0 with the tier default for an allowed call', () => {
    const r = warren(['grants', 'explain', 'acme/support', 'send_file', 'path=reports/q3.pdf', ...common()]);
    expect(r.stdout).toMatch(/^ALLOW acme\/support \(tier 2\) send_file/m);
    expect(r.stdout).toMatch(/tier 2 default/);
    expect(r.status).toBe(0);
  });

  it("grants explain: exit 1 naming the ancestor's file:line for a denied call", () => {
    const r = warren(['grants', 'explain', 'acme/support/triage', 'send_file', 'path=/home/node/private/x', ...common()]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^DENY/m);
    expect(r.stdout).toMatch(/acme\/grants:2/);
  });

  it('grants explain without a running gated says it read the files', () => {
    const r = warren(['grants', 'explain', 'acme', 'whoami', ...common()]);
    expect(r.stdout.split('\n')[0]).toBe(`no running gated on ${tree.data}: read from the files`);
    expect(r.stdout).toMatch(/^ALLOW acme \(tier 1\) whoami/m);
  });

  // Each of these the rules alone allow; the real call is refused, and so explain must say.
  it.each([
    ['the structural guard (delegate only down)', ['acme', 'delegate_group', 'group=globex', 'prompt=hi'], 'structural guard', /only reaches your descendants/],
    ['the structural guard (create only direct children)', ['acme', 'create_group', 'name=-rf'], 'structural guard', /may not start with "-"/],
    ['argument validation (unknown key)', ['acme/support', 'send_file', 'path=a.pdf', 'bogus=1'], 'invalid arguments', /Unrecognized key: "bogus"/],
    ['argument validation (missing argument)', ['acme', 'send_message', 'chat=slack:c1'], 'invalid arguments', /text: /],
  ])('grants explain refuses what the real call refuses: %s', (_label, call, stage, message) => {
    const r = warren(['grants', 'explain', ...call, ...common()]);
    expect(r.stdout).toMatch(/^DENY /m);
    expect(r.stdout).toContain(`refused at: ${stage}`);
    expect(r.stdout).toMatch(message);
    expect(r.status).toBe(1);
  });

  it('grants explain: a tenant that was never valid is denied', () => {
    const r = warren(['grants', 'explain', 'globex', 'whoami', ...common()]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/no valid configuration/);
    expect(r.stdout).toMatch(/globex\/grants:1/);
  });

  it('tenants shows tiers, statuses and file:line errors', () => {
    const r = warren(['tenants', ...common()]);
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe(`no running gated on ${tree.data}: read from the files`);
    expect(r.stdout).toMatch(/^acme\s+tier 1\s+ok/m);
    expect(r.stdout).toMatch(/^acme\/support\/triage\s+tier 2/m);
    expect(r.stdout).toMatch(/^globex\s+tier 1\s+invalid/m);
    expect(r.stdout).toMatch(/globex\/grants:1: /);
  });

  it('tenants names an invalid skill and an invalid environment: entry with file:line', () => {
    const t = tempTree({
      'acme/PERSONA.md': '---\nname: Acme\nenvironment:\n  HTTPS_PROXY: http://elsewhere:3128\n---\n',
      'acme/skills/summarise/SKILL.md': '---\nname: summarise\ndescription: Three bullets.\nallways: [x]\n---\n',
      'acme/skills/nodoc/notes.md': 'no SKILL.md here\n',
    });
    try {
      const r = warren(['tenants', '--tenants', t.tenants, '--data', t.data]);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/^acme\s+tier 1\s+invalid/m);
      expect(r.stdout).toContain('acme/PERSONA.md:4: "environment.HTTPS_PROXY": HTTPS_PROXY is set by warren itself');
      expect(r.stdout).toContain('acme/skills/summarise/SKILL.md:4: unknown key "allways"');
      expect(r.stdout).toContain('acme/skills/nodoc/SKILL.md: skill folder "nodoc" has no SKILL.md');
    } finally {
      t.cleanup();
    }
  });

  it('audit reads an empty log without error, and rejects bad options', () => {
    openWarrenDb(tree.data).close();
    expect(warren(['audit', ...common()]).status).toBe(0);
    const bad = warren(['audit', '--limit', 'lots', ...common()]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--limit/);
  });

  it('unknown commands and options are usage errors', () => {
    expect(warren(['frobnicate']).status).toBe(2);
    expect(warren(['tenants', '--bogus', ...common()]).status).toBe(2);
  });
});

describe('tenants and grants explain with gated running: they show what gated enforces, not what the files say', () => {
  let tree: TempTree;
  let gated: Gated;
  const common = () => ['--tenants', tree.tenants, '--data', tree.data];

  beforeAll(async () => {
    tree = standardTree();
    tree.write('acme/grants', '!send_file(path=private/**)\n');
    tree.write('globex/grants', 'bad rule (\n');
    tree.mkdir('globex/team');
    tree.write('globex/team/PERSONA.md', '---\nname: team\n---\nA team.\n');
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
    // acme's grants break while gated runs: gated keeps acme's last good configuration, a fresh read has none.
    tree.write('acme/grants', 'send_file(path=\n');
    gated.registry.refresh();
    await gated.settled();
  });
  afterAll(async () => {
    await gated?.stop();
    tree?.cleanup();
  });

  it('tenants shows "last good" with the error being ignored, "blocked" below an invalid ancestor, and live sockets', async () => {
    const r = await warrenAsync(['tenants', ...common()]);
    expect(r.stdout.split('\n')[0]).toBe(`running gated on ${tree.data}: its live state`);
    expect(r.stdout).toMatch(new RegExp(`^acme\\s+tier 1\\s+last good\\s+${gated.socketPath('acme')}$`, 'm'));
    expect(r.stdout).toMatch(/^ {4}ignoring: .*acme\/grants:1: /m);
    expect(r.stdout).toMatch(/^globex\s+tier 1\s+invalid\s+\(no live socket\)/m);
    expect(r.stdout).toMatch(/^globex\/team\s+tier 2\s+blocked/m);
    expect(r.stdout).toMatch(/^ {4}refused: the configuration of globex, which your group belongs to, is invalid/m);
    expect(r.status).toBe(1);
    const other = await warrenAsync(['tenants', '--tenants', join(tree.root, 'other'), '--data', tree.data]);
    expect(other.stdout.split('\n')[1]).toBe(`note: that gated serves ${tree.tenants}, not ${join(tree.root, 'other')}`);
    const json = JSON.parse((await warrenAsync(['tenants', '--json', ...common()])).stdout);
    expect(json.source).toBe('gated');
    expect(json.tenants.find((t: { tenant: string }) => t.tenant === 'acme')).toMatchObject({ status: 'last good', errors: [expect.stringMatching(/acme\/grants:1/)] });
  });

  it('the same files without gated: acme reads as invalid (which is not what is enforced)', () => {
    const r = warren(['tenants', '--tenants', tree.tenants, '--data', join(tree.root, 'elsewhere')]);
    expect(r.stdout).toMatch(/^no running gated on .*elsewhere: read from the files/);
    expect(r.stdout).toMatch(/^acme\s+tier 1\s+invalid/m);
  });

  it('grants explain answers as the live gated does: allowed under the last good configuration', async () => {
    const live = await warrenAsync(['grants', 'explain', 'acme', 'whoami', ...common()]);
    expect(live.stdout.split('\n')[0]).toBe(`running gated on ${tree.data}: its live state`);
    expect(live.stdout).toMatch(/^warning: .*acme\/grants:1/m);
    expect(live.stdout).toMatch(/^ALLOW acme \(tier 1\) whoami/m);
    expect(live.status).toBe(0);
    // The last good configuration still denies what it denied.
    const denied = await warrenAsync(['grants', 'explain', 'acme/support', 'send_file', 'path=private/x', ...common()]);
    expect(denied.stdout).toMatch(/deciding rule: deny !send_file\(path=private\/\*\*\) \[tenants\/acme\/grants:1\]/);
    expect(denied.status).toBe(1);
    const blocked = await warrenAsync(['grants', 'explain', 'globex/team', 'whoami', ...common()]);
    expect(blocked.stdout).toMatch(/refused at: closed/);
    expect(blocked.status).toBe(1);

    const files = warren(['grants', 'explain', 'acme', 'whoami', '--tenants', tree.tenants, '--data', join(tree.root, 'elsewhere')]);
    expect(files.stdout).toMatch(/^DENY  acme/m);
    expect(files.status).toBe(1);
  });
});

describe('CLI hygiene', () => {
  let tree: TempTree;
  beforeAll(async () => {
    tree = tempTree({ 'acme/support/': '', 'acmex/': '' });
    const db = openWarrenDb(tree.data);
    const audit = new AuditLog(tree.data, { key: loadAuditKey(tree.data, { create: true }), log: silentLogger() });
    const row = (tenant: string, i: number) => ({ tenant, run: null, tool: 'whoami', decision: 'allow' as const, rule: null, durationUs: i, outcome: 'ok' as const, args: {} });
    for (const tenant of ['acme', 'acme/support', 'acmex', 'globex']) void audit.record(row(tenant, 1));
    for (let i = 0; i < 20_000; i++) void audit.record(row('globex', i));
    await audit.close();
    db.close();
  });
  afterAll(() => tree.cleanup());

  it('warren --version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(join(requireBuilt(), '../../../package.json'), 'utf8'));
    const r = warren(['--version']);
    expect(r.stdout).toBe(`warren ${pkg.version}\n`);
    expect(r.status).toBe(0);
  });

  it('a reader that stops early is no error: `warren audit | head -1` exits 0 with nothing on stderr', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${requireBuilt()}" audit --limit 20000 --data "${tree.data}" | head -1`], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('audit --tenant T covers T and the tenants below it, nothing else', () => {
    const r = warren(['audit', '--tenant', 'acme', '--json', '--data', tree.data]);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).tenant)).toEqual(['acme', 'acme/support']);
  });

  it.each([
    ['audit', ['audit']],
    ['egress log', ['egress', 'log']],
    ['messages', ['messages', 'acme']],
  ])('%s without data says so, exits 1 and creates nothing', (_label, args) => {
    const missing = join(tree.root, 'no-such-data');
    const r = warren([...args, '--data', missing]);
    expect(r.stderr).toMatch(new RegExp(`no warren data at ${missing}`));
    expect(r.status).toBe(1);
    expect(existsSync(missing)).toBe(false);
  });

  it.each([
    ['messages', ['messages', 'Acme']],
    ['audit --tenant', ['audit', '--tenant', 'acme/../x']],
    ['egress log --tenant', ['egress', 'log', '--tenant', 'root/x']],
    ['grants explain', ['grants', 'explain', 'acme/-v', 'whoami']],
    ['connect', ['connect', 'Acme/../x']],
  ])('a bad tenant name is a usage error (exit 2): %s', (_label, args) => {
    const r = warren([...args, '--tenants', tree.tenants, '--data', tree.data]);
    expect(r.stderr).toMatch(/invalid tenant/);
    expect(r.status).toBe(2);
  });
});

describe('warren vhosts', () => {
  let tree: TempTree;
  let gated: Gated;
  const common = () => ['--tenants', tree.tenants, '--data', tree.data];

  beforeAll(async () => {
    tree = standardTree();
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
  });
  afterAll(async () => {
    await gated?.stop();
    tree?.cleanup();
  });

  it('sets, lists and removes a host as root, through audited tool calls', async () => {
    const set = await warrenAsync(['vhosts', 'set', 'Reports.Acme.Example', 'acme', ...common()]);
    expect(set.status, set.stderr).toBe(0);
    expect(set.stdout).toContain('reports.acme.example -> acme');
    const listed = await warrenAsync(['vhosts', '--json', ...common()]);
    expect(JSON.parse(listed.stdout.trim())).toMatchObject({ host: 'reports.acme.example', tenant: 'acme', created_by: 'root' });
    const bad = await warrenAsync(['vhosts', 'set', '10.0.0.1', 'acme', ...common()]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/IP address/);
    expect((await warrenAsync(['vhosts', 'remove', 'reports.acme.example', ...common()])).status).toBe(0);
    expect(gated.store.vhost('reports.acme.example')).toBeUndefined();
    await gated.audit.flush();
    const tools = gated.audit.db.prepare("SELECT tool FROM audit WHERE tenant = 'root' ORDER BY id").pluck().all();
    expect(tools).toEqual(['set_vhost', 'set_vhost', 'remove_vhost']);
  });
});
