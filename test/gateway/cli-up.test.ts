// The operator's path: `warren up` on the example tree, then `warren send`, `warren messages` and `warren chat`; the
// front desk runs as a coordinator that farms an order report out to a worker and answers meanwhile, with /status
// (the REST route) and `warren workers` showing the worker at work.
import { cpSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readOperatorToken } from '../../gateway/operator-token.js';
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

  it('farms an order report out to a worker, answers mid-build, and shows the worker in /status and warren workers', async () => {
    const sent = warren(['send', 'acme', 'can I have an order report, please?', '--sender', 'cy', ...common()]);
    expect(sent.status).toBe(0);
    const messages = () => warren(['messages', 'acme', '--json', ...common()]).stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { id: number; chat: string; text: string });
    await eventually(() => messages().some((m) => m.chat === 'local:cy' && /I am preparing your order report/.test(m.text)), 'the desk saying it started');
    const listed = await eventually(() => {
      const l = JSON.parse(warren(['workers', 'acme', '--json', ...common()]).stdout);
      return l.workers.some((w: { state: string }) => w.state === 'running') ? l : undefined;
    }, 'the worker running');
    expect(listed.coordinators).toMatchObject({ source: 'gateway', items: [{ tenant: 'acme' }] });
    expect(listed.workers).toEqual([
      expect.objectContaining({ tenant: 'acme', state: 'running', brief: 'Prepare the order report for cy: can I have an order report, please?', container: expect.any(String) }),
    ]);
    // /status without a model (its REST twin): the worker, its brief and, once it has one, its latest line of output.
    const status = await eventually(async () => {
      const res = await fetch(`${up.url}/v1/tenants/acme/status`, { headers: { authorization: `Bearer ${readOperatorToken(tree.data)}` } });
      const body = (await res.json()) as { text: string; workers: { last_line: string | null }[] };
      return body.workers[0]?.last_line ? body : undefined;
    }, "the worker's first line of output");
    expect(status.text).toMatch(/\nworkers: 1 running\n- w-[0-9a-f]+ running \d+s: Prepare the order report for cy.*\n {2}> \S/);
    // Mid-build the desk still answers at once: the reply comes before the report.
    warren(['send', 'acme', 'what are your opening hours?', '--sender', 'cy', ...common()]);
    const report = await eventually(() => messages().find((m) => /^Your report is ready: order report for cy: 3 orders/.test(m.text)), 'the report', 90_000);
    const hours = messages().find((m) => /We are open Monday to Friday/.test(m.text) && m.chat === 'local:cy');
    expect(hours!.id).toBeLessThan(report.id);
    expect(report.chat).toBe('local:cy');
  }, 120_000);

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

