// The tree is live: new folders get sockets, grants edits change the very next call, removed folders lose theirs.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { silentLogger } from '../../core/log.js';
import { Gated } from '../../gated/broker.js';
import { connectClient, textOf } from '../helpers/mcp.js';
import { standardTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

describe('hot reload through the watcher', () => {
  let tree: TempTree;
  let gated: Gated;

  beforeEach(async () => {
    tree = standardTree();
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger() });
  });
  afterEach(async () => {
    await gated.stop();
    tree.cleanup();
  });

  it('mkdir gives a new tenant a live socket', async () => {
    const socket = gated.socketPath('acme/sales');
    expect(existsSync(socket)).toBe(false);
    tree.mkdir('acme/sales');
    await eventually(() => existsSync(socket), 'socket for acme/sales');
    const client = await connectClient(socket);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(JSON.parse(textOf(who)).tenant).toBe('acme/sales');
    await client.close();
  });

  it('a grants edit changes what the very next call may do, and a broken edit keeps the last good rules', async () => {
    const client = await connectClient(gated.socketPath('acme'));
    const like = async () => textOf(await client.callTool({ name: 'fork_topic', arguments: { parent: 'main', child: `t${Date.now()}` } }));
    expect(await like()).not.toMatch(/^denied/);

    tree.write('acme/grants', '!fork_topic\n');
    await eventually(async () => /^denied/.test(await like()), 'fork_topic denied after edit', 10_000);

    tree.write('acme/grants', '!fork_topic\nthis is ( not a rule\n');
    // Only once the broken edit has been read does "still denied" say anything about it.
    await eventually(() => (gated.registry.get('acme')?.errors.length ?? 0) > 0, 'the broken grants edit reported', 10_000);
    expect(await like()).toMatch(/^denied/); // last good config (with the deny) still applies

    tree.write('acme/grants', '# nothing denied\n');
    await eventually(async () => !/^denied/.test(await like()), 'fork_topic allowed again');
    await client.close();
  });

  it('tells connected clients that their tool list changed, and the new list lacks the denied tool', async () => {
    const client = await connectClient(gated.socketPath('acme/support'));
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('like');
    tree.write('acme/grants', '!like\n');
    await eventually(() => changed > 0, 'tools/list_changed notification', 10_000);
    expect((await client.listTools()).tools.map((t) => t.name)).not.toContain('like');
    await client.close();
  });

  it("an ancestor's deny narrows its whole subtree at once", async () => {
    const client = await connectClient(gated.socketPath('acme/support'));
    const call = async () => textOf(await client.callTool({ name: 'whoami', arguments: {} }));
    expect(await call()).not.toMatch(/^denied/);
    tree.write('acme/grants', '!whoami\n');
    await eventually(async () => /^denied/.test(await call()), 'whoami denied for acme/support', 10_000);
    await client.close();
  });

  it('removing a folder closes its socket and its subtree', async () => {
    const support = gated.socketPath('acme/support');
    const triage = gated.socketPath('acme/support/triage');
    const client = await connectClient(support);
    rmSync(join(tree.tenants, 'acme/support'), { recursive: true });
    await eventually(() => !existsSync(support) && !existsSync(triage), 'sockets removed');
    await eventually(async () => {
      try {
        await client.callTool({ name: 'whoami', arguments: {} });
        return false;
      } catch {
        return true;
      }
    }, 'existing connection closed');
  });

  it('mkdir then a grants file that does not parse: the new tenant loses its socket instead of running without its denies', async () => {
    const socket = gated.socketPath('acme/iota');
    tree.mkdir('acme/iota');
    await eventually(() => existsSync(socket), 'socket for acme/iota');
    const client = await connectClient(socket);
    expect((await client.callTool({ name: 'whoami', arguments: {} })).isError).toBeFalsy();

    tree.write('acme/iota/grants', '!send_message(chat=$routed)\n!reply(\n');
    await eventually(() => !existsSync(socket), 'socket for acme/iota removed', 10_000);
    expect(gated.registry.get('acme/iota')).toMatchObject({ config: null, errors: [{ line: 2 }] });
    await client.close().catch(() => {});

    tree.write('acme/iota/grants', '!send_message(chat=$routed)\n!reply\n');
    await eventually(() => existsSync(socket), 'socket for acme/iota back', 10_000);
    const again = await connectClient(socket);
    expect(textOf(await again.callTool({ name: 'reply', arguments: { text: 'x' } }))).toMatch(/^denied: denied by rule "!reply"/);
    await again.close();
  });

  it("an invalid ancestor closes its subtree, and the child's denial carries none of the ancestor's paths or errors", async () => {
    const client = await connectClient(gated.socketPath('acme/support'));
    const whoami = async () => textOf(await client.callTool({ name: 'whoami', arguments: {} }));
    expect(await whoami()).not.toMatch(/^denied/);
    tree.write('acme/allowlist', 'secret-name.internal.example\nbad host name\n');
    await eventually(async () => /^denied/.test(await whoami()), 'acme/support closed', 10_000);

    const denial = await whoami();
    expect(denial).toBe(
      'denied: the configuration of acme, which your group belongs to, is invalid, so every call is refused until an ' +
        'operator fixes it; say so in your answer and ask an operator to fix it.',
    );
    const [error] = gated.registry.get('acme')!.errors;
    expect(error!.file).toBe(join(tree.tenants, 'acme/allowlist')); // the operator still sees where and why
    for (const secret of [tree.root, 'allowlist', 'bad host name', error!.message]) expect(denial).not.toContain(secret);
    await client.close();
  });

  it('a tenant whose files were never valid gets no socket', async () => {
    tree.mkdir('acme/broken');
    writeFileSync(join(tree.tenants, 'acme/broken/grants'), 'send_message(chat=\n');
    // No socket means something only once the folder has been loaded and its sockets settled.
    await eventually(() => gated.registry.get('acme/broken')?.errors[0]?.line === 1, 'acme/broken loaded with its error', 10_000);
    await gated.settled();
    expect(existsSync(gated.socketPath('acme/broken'))).toBe(false);
  });
});
