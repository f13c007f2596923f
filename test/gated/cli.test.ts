// The operator's commands: grants defaults/explain, tenants, audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warren } from '../helpers/cli.js';
import { standardTree, type TempTree } from '../helpers/tree.js';

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
    expect(r.stdout).toMatch(/^ALLOW acme\/support \(tier 2\) send_file/);
    expect(r.stdout).toMatch(/tier 2 default/);
    expect(r.status).toBe(0);
  });

  it("grants explain: exit 1 naming the ancestor's file:line for a denied call", () => {
    const r = warren(['grants', 'explain', 'acme/support/triage', 'send_file', 'path=/home/node/private/x', ...common()]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^DENY/);
    expect(r.stdout).toMatch(/acme\/grants:2/);
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
    expect(r.stdout).toMatch(/^acme\s+tier 1\s+ok/m);
    expect(r.stdout).toMatch(/^acme\/support\/triage\s+tier 2/m);
    expect(r.stdout).toMatch(/^globex\s+tier 1\s+invalid/m);
    expect(r.stdout).toMatch(/globex\/grants:1: /);
  });

  it('audit reads an empty log without error, and rejects bad options', () => {
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
