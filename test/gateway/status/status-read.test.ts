// The status read on a real warren.db and the REST route that serves it (GET /v1/tenants/:tenant/status): running
// turns with their latest live-output line, waiting messages, the live coordinator, workers, and nothing of any
// other tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputBounds } from '../../../gateway/live/chunks.js';
import { RunOutputStore } from '../../../gateway/live/output-store.js';
import { RunStore } from '../../../gateway/run-store.js';
import { OPERATOR_TOKEN, startApi, type ApiFixture } from '../../helpers/http-api.js';
import { standardTree, type TempTree } from '../../helpers/tree.js';

describe('the status read and GET /v1/tenants/:tenant/status', () => {
  let tree: TempTree;
  let api: ApiFixture;
  let runs: RunStore;
  let output: RunOutputStore;
  let running: string;

  beforeAll(async () => {
    tree = standardTree();
    api = await startApi(tree);
    runs = new RunStore(api.db, 'test', api.gated.store);
    output = new RunOutputStore(api.db, outputBounds({}));
    const add = (tenant: string, topic: string, text: string) =>
      api.gated.store.addMessage({ tenant, topic, kind: 'chat', chat: 'local:x', sender: 'ann', text });
    // A finished turn (not shown), a running one with output, and two messages waiting on another topic.
    add('acme/support', 'old', 'done already');
    const old = runs.tryStart('acme/support', 'old', 10)!;
    runs.finish(old, { status: 'done', text: 'ok', session: null }, []);
    add('acme/support', 'main', 'build it');
    running = runs.tryStart('acme/support', 'main', 10)!.id;
    output.begin(running, 'acme/support');
    output.append(running, 'log', { text: 'compiling 1/3' });
    output.append(running, 'log', { text: 'compiling 2/3' });
    output.append(running, 'tool', { data: { tool: 'whoami', decision: 'allow' } });
    output.append(running, 'status', { data: { state: 'committing' } });
    add('acme/support', 'later', 'one');
    add('acme/support', 'later', 'two');
    // Another tenant's turn and messages: never in acme/support's status.
    add('globex', 'main', 'secret plans');
    runs.tryStart('globex', 'main', 10);
    add('globex', 'main', 'more secret plans');
  });
  afterAll(async () => {
    await api?.stop();
    tree?.cleanup();
  });

  const get = async (path: string, token = OPERATOR_TOKEN) => {
    const res = await fetch(api.url + path, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };

  it("reads the tenant's running turns with their latest log line or tool call, and its waiting messages", () => {
    const snapshot = api.deps.read.status('acme/support', null, 1_000);
    expect(snapshot).toEqual({
      tenant: 'acme/support',
      now: 1_000,
      coordinator: null,
      turns: [{ run: running, topic: 'main', startedAt: expect.any(Number), lastLine: 'called whoami' }],
      workers: [],
      waiting: 2,
    });
  });

  it("reads the tenant's queued and running workers from the workers table, each with its own latest line", () => {
    const store = api.gated.store;
    const spawn = (tenant: string, brief: string) => store.addWorker({ tenant, topic: 'main', spawnedBy: running, brief });
    const built = spawn('acme/support', 'Build the site\nwith vite');
    expect(store.startWorker(built.id, 'c0ffee')).toBe(true);
    output.begin(built.id, 'acme/support');
    output.append(built.id, 'log', { text: '{"level":"info","msg":"vite build","component":"runner"}' });
    const queued = spawn('acme/support', 'Write the docs');
    const cancelled = spawn('acme/support', 'Never mind');
    expect(store.cancelWorker('acme/support', cancelled.id)).toBe(true);
    spawn('globex', 'Secret plans');
    const { workers } = api.deps.read.status('acme/support', null);
    expect(workers.map((w) => [w.id, w.state, w.container, w.lastLine])).toEqual([
      [built.id, 'running', 'c0ffee', 'vite build'],
      [queued.id, 'queued', null, null],
    ]);
  });

  it('serves the text and the JSON, with the live coordinator, for the tenant named only', async () => {
    const since = Date.now() - 5_000;
    api.deps.coordinatorView = (tenant) => (tenant === 'acme/support' ? { state: 'busy', since, busyWith: running } : null);
    try {
      const { status, body } = await get('/v1/tenants/acme.support/status');
      expect(status).toBe(200);
      expect(body).toMatchObject({
        tenant: 'acme/support',
        coordinator: { state: 'busy', busy_with: running, since: new Date(since).toISOString() },
        turns: [{ run: running, topic: 'main', last_line: 'called whoami' }],
        workers: [
          { state: 'running', brief: 'Build the site', last_line: 'vite build', container: 'c0ffee' },
          { state: 'queued', brief: 'Write the docs', last_line: null, container: null },
        ],
        waiting: 2,
      });
      expect(body.text).toMatch(
        /^acme\/support: coordinator in a turn for \d+s; 2 messages waiting\n {2}> called whoami\nworkers: 1 running, 1 queued\n- w-\w+ running \d+s: Build the site\n {2}> vite build\n- w-\w+ queued \d+s: Write the docs$/,
      );
      expect(JSON.stringify(body)).not.toMatch(/globex|secret/i);
    } finally {
      delete api.deps.coordinatorView;
    }
  });

  it('answers 404 for a tenant that is not in the tree', async () => {
    expect((await get('/v1/tenants/nosuch/status')).status).toBe(404);
  });

  it("refuses another world's token (its scope does not cover the tenant)", async () => {
    const { token } = api.tokens.issue({ scope: 'globex', access: 'read' });
    expect((await get('/v1/tenants/acme.support/status', token)).status).toBe(403);
    const globex = await get('/v1/tenants/globex/status', token);
    expect(globex.body).toMatchObject({ tenant: 'globex', waiting: 1, turns: [{ topic: 'main' }] });
  });
});
