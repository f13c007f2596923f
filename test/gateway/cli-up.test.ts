// The operator's path: `warren up` on the example tree, then `warren send`, `warren messages` and `warren chat`.
import { cpSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentImage } from '../helpers/docker.js';
import { requireBuilt, warren } from '../helpers/cli.js';
import { startUp, type UpProcess } from '../helpers/up.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

const EXAMPLE = fileURLToPath(new URL('../../tenants', import.meta.url));

describe('warren up with the example tenants', () => {
  let tree: TempTree;
  let up: UpProcess;
  const common = () => ['--tenants', tree.tenants, '--data', tree.data];

  beforeAll(async () => {
    tree = tempTree();
    cpSync(EXAMPLE, tree.tenants, { recursive: true });
    up = await startUp(tree, { WARREN_AGENT_IMAGE: (await agentImage()).tag, WARREN_INSTANCE: `cli-${process.pid}` });
  });
  afterAll(async () => {
    if (process.env.WARREN_TEST_DEBUG) process.stderr.write(up.stderr());
    expect(await up.stop()).toBe(0);
    tree.cleanup();
  });

  it('send, then messages shows the front desk reply and, later, what support said', async () => {
    const sent = warren(['send', 'acme', 'my spade arrived broken, order 4711', '--sender', 'ann', ...common()]);
    expect(sent.stdout).toMatch(/^queued message \d+ for acme\n$/);
    const first = await eventually(() => {
      const out = warren(['messages', 'acme', ...common()]).stdout;
      return /passed this to our support team/.test(out) && /Support says: Order 4711/.test(out) ? out : undefined;
    }, 'both replies');
    expect(first).toMatch(/-> local:ann: Sorry to hear that/);
  });

  it('chat sends typed lines and prints the replies as they arrive', async () => {
    const child = spawn(process.execPath, [requireBuilt(), 'chat', 'acme', '--sender', 'bob', ...common()], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stdin.end('what are your opening hours?\n');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/acme> We are open Monday to Friday/);
  });

  it('refuses to send to a tenant that does not exist, with a reason', () => {
    const r = warren(['send', 'acme/nobody', 'hi', ...common()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no tenant acme\/nobody/);
  });

  it('the HTTP API requires the operator token', async () => {
    const res = await fetch(`${up.url}/v1/messages`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(401);
    expect((await fetch(`${up.url}/v1/health`)).status).toBe(200);
  });
});

