// The operator's channel commands, run as the built CLI on a real tree and database: `warren routes`,
// `warren approvals` and `warren channels`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { TenantRegistry } from '../../../core/tree/registry.js';
import { openWarrenDb } from '../../../core/warren-db.js';
import { GatedStore } from '../../../gated/store.js';
import { ChannelInbound } from '../../../gateway/channels/inbound-sink.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { warren } from '../../helpers/cli.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';

let tree: TempTree;
let approval: string;

beforeAll(async () => {
  tree = tempTree({
    'acme/PERSONA.md': '---\nname: acme\nchannels:\n  - chat: tg:-1\n    engage: always\n  - chat: local:ops\n---\n',
    'acme/desk/': '',
  });
  const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
  const store = new GatedStore(db);
  store.setRoute('tg:-2', 'acme/desk', 'acme');
  const registry = new TenantRegistry(tree.tenants, silentLogger());
  registry.loadAll();
  const sink = new ChannelInbound({ db, store, registry, log: silentLogger() });
  const event = {
    chat: 'tg:-1', thread: null, sender: { id: 'tg:77', name: 'Stranger' }, text: 'may I ask?', platformMessageId: '5', replyTo: null,
    direct: false, mentioned: false, command: null,
  };
  approval = ((await sink.receive(event, { prefix: 'tg', world: 'acme' })) as { approval: string }).approval;
  const failed = store.addOutbox({ tenant: 'acme', topic: 'main', kind: 'message', chat: 'tg:-1', text: 'x' });
  store.startDelivery(failed);
  store.markDeliveryFailed(failed, 'chat not found');
  db.close();
});
afterAll(() => tree.cleanup());

const opts = () => ['--tenants', tree.tenants, '--data', tree.data];

describe('warren routes', () => {
  it('lists PERSONA.md wiring with file:line and set_route routes with their creator', () => {
    const r = warren(['routes', '--json', ...opts()]);
    expect(r.status).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((w) => [w.chat, w.tenant, w.engage, w.unknown, w.source])).toEqual([
      ['tg:-1', 'acme', 'always', 'request-approval', 'acme/PERSONA.md:4'],
      ['local:ops', 'acme', 'mention', 'public', 'acme/PERSONA.md:6'],
      ['tg:-2', 'acme/desk', 'mention', 'request-approval', 'set_route by acme'],
    ]);
  });
});

describe('warren approvals', () => {
  it('lists the pending request, approves it, and the held message is stored for the tenant', () => {
    const list = warren(['approvals', ...opts()]);
    expect(list.stdout).toContain(`${approval}  pending  acme`);
    expect(list.stdout).toContain('tg:77 (Stranger): "may I ask?"');
    const ok = warren(['approvals', 'approve', approval, ...opts()]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^approved tg:77 in tg:-1 \(acme\); their first message: acme #\d+\n$/);
    expect(warren(['approvals', ...opts()]).stdout).toBe('');
    const again = warren(['approvals', 'approve', approval, ...opts()]);
    expect([again.status, again.stderr]).toEqual([1, expect.stringContaining(`${approval} is approved already`)]);
    expect(warren(['approvals', 'deny', 'apr_nope', ...opts()]).stderr).toContain('no approval apr_nope');
  });
});

describe('warren channels', () => {
  it('says warren is not running, lists the wired chats, the last delivery error and the failed rows', () => {
    const r = warren(['channels', ...opts()]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`adapters: warren is not running on ${tree.data}`);
    expect(r.stdout).toMatch(/tg:-1\s+-> acme\s+shared, always, unknown: request-approval/);
    expect(r.stdout).toMatch(/tg:-2\s+-> acme\/desk/);
    expect(r.stdout).toMatch(/last delivery error per chat:\n\s+tg:-1\s+acme\s+#\d+ chat not found/);
    expect(r.stdout).toMatch(/failed rows \(1\):\n\s+#\d+ .* acme -> tg:-1 after 1 attempt\(s\): chat not found/);
  });
});
