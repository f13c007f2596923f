// `warren up` (the real CLI, a child process) prints the dashboard URL and a one-time login link, which opens a
// session once and is refused the second time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../../gateway/dashboard/sessions.js';
import { agentImage } from '../../helpers/docker.js';
import { standardTree, type TempTree } from '../../helpers/tree.js';
import { startUp, type UpProcess } from '../../helpers/up.js';
import { eventually } from '../../helpers/wait.js';

describe('warren up and the dashboard', () => {
  let tree: TempTree;
  let up: UpProcess;
  beforeAll(async () => {
    tree = standardTree();
    up = await startUp(tree, { WARREN_AGENT_IMAGE: (await agentImage()).tag, WARREN_INSTANCE: `dash-${process.pid}`, WARREN_EGRESS: 'off' });
  }, 120_000);
  afterAll(async () => {
    expect(await up?.stop()).toBe(0);
    tree?.cleanup();
  });

  it('prints the dashboard URL and a one-time login link that works exactly once', async () => {
    const printed = await eventually(() => /one-time login link[^:]*: (\S+)/.exec(up.stderr()), 'the login link on stderr', 30_000);
    expect(up.stderr()).toContain(`dashboard: ${up.url}/\n`);
    const link = printed[1]!;
    expect(link).toMatch(new RegExp(`^${up.url.replace(/[.[\]]/g, '\\$&')}/login/[A-Za-z0-9_-]{43}$`));
    expect(link).not.toContain('wop_'); // a code, not the operator token
    const first = await fetch(link, { redirect: 'manual' });
    expect([first.status, first.headers.get('location')]).toEqual([303, '/']);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie.startsWith(`${SESSION_COOKIE}=`)).toBe(true);
    const overview = await fetch(`${up.url}/`, { headers: { cookie } });
    expect([overview.status, /<h1>Overview<\/h1>/.test(await overview.text())]).toEqual([200, true]);
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(403);
  }, 60_000);
});
