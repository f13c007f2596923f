// Coordinators with real containers (scripted harness): a warm container answers message after message, idles out,
// loses no message that races the idle timeout, and a turn cut short by a kill is re-queued exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarrenDb } from '../../../core/warren-db.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import { GATEWAY_MIGRATIONS } from '../../../gateway/migrations.js';
import { OutboxView } from '../../../gateway/outbox-view.js';
import type { Warren } from '../../../gateway/warren.js';
import { agentImage, containersWithLabel, requireDocker } from '../../helpers/docker.js';
import { warren as cli } from '../../helpers/cli.js';
import { startUp } from '../../helpers/up.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { eventually } from '../../helpers/wait.js';
import { startWarren, waitForOutbox } from '../../helpers/warren.js';

const persona = (idle: number) => `---
harness: script
always_on: true
idle_timeout: ${idle}
script:
  - match: "^slow (.*)$"
    work: { hold_ms: 4000 }
    reply: "slow done: $1"
  - match: ".*"
    reply: "echo: $0"
---
`;

describe('a coordinator (always_on: true)', () => {
  let tree: TempTree;
  let warren: Warren;
  let raced = 0;

  beforeAll(async () => {
    tree = tempTree({
      'warm/PERSONA.md': persona(600),
      'race/PERSONA.md': persona(1),
      'crash/PERSONA.md': persona(600),
      'queue/PERSONA.md': persona(600),
      'twice/PERSONA.md': persona(600),
      'late/PERSONA.md': persona(600).replace('idle_timeout: 600', 'idle_timeout: 600\nlimits: { timeout_s: 2 }'),
    });
    warren = await startWarren(tree, {
      coordinatorHooks: {
        // Forces the race: a message is queued exactly as the idle timer fires, before the stop is decided.
        beforeIdleDecision: (tenant) => {
          if (tenant !== 'race' || raced++ > 0) return;
          acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'race', text: 'raced', sender: 'ann' });
        },
      },
    });
  });
  afterAll(async () => {
    await warren?.stop();
    tree?.cleanup();
  });

  const send = (tenant: string, text: string) => acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text, sender: 'ann' });
  const containersOf = async (tenant: string) =>
    (await containersWithLabel(`warren.instance=${warren.config.instance}`)).filter((c) => c.Labels['warren.tenant'] === tenant);
  const runsOf = (tenant: string) =>
    warren.db.prepare(`SELECT status, attempt, container FROM runs WHERE tenant = ? ORDER BY started_at, rowid`).all(tenant) as {
      status: string;
      attempt: number;
      container: string | null;
    }[];

  it('answers message after message from one warm container, without a container per message', async () => {
    send('warm', 'one');
    await waitForOutbox(warren, 'warm', (r) => r.text === 'echo: one');
    const after1 = (await containersOf('warm')).map((c) => c.Id);
    send('warm', 'two');
    await waitForOutbox(warren, 'warm', (r) => r.text === 'echo: two');
    send('warm', 'three');
    await waitForOutbox(warren, 'warm', (r) => r.text === 'echo: three');
    const after3 = (await containersOf('warm')).map((c) => c.Id);
    expect(after1).toHaveLength(1);
    expect(after3).toEqual(after1);
    expect(runsOf('warm').map((r) => r.status)).toEqual(['done', 'done', 'done']);
  });

  it('a message that arrives mid-turn waits for the boundary and is the next turn of the same container', async () => {
    send('queue', 'slow work');
    await eventually(() => runsOf('queue').some((r) => r.status === 'running'), 'the slow turn running');
    send('queue', 'quick');
    await waitForOutbox(warren, 'queue', (r) => r.text === 'echo: quick');
    // Replies in turn order: the quick one was not let into the slow turn, nor run beside it.
    expect(warren.outbox.list('queue', { limit: 100 }).map((r) => r.text)).toEqual(['slow done: work', 'echo: quick']);
    const claimed = warren.db.prepare(`SELECT text, run FROM messages WHERE tenant = 'queue' ORDER BY id`).all() as { text: string; run: string }[];
    expect(claimed).toHaveLength(2);
    expect(claimed[0]!.run).not.toBe(claimed[1]!.run);
    expect((await containersOf('queue')).length).toBe(1);
  });

  it('a turn past its time limit is reported as out of time, and the next message is still answered', async () => {
    send('late', 'slow never');
    await waitForOutbox(warren, 'late', (r) => /ran out of time \(limit 2 s\)/.test(r.text ?? ''));
    send('late', 'next');
    await waitForOutbox(warren, 'late', (r) => r.text === 'echo: next');
    expect(runsOf('late').map(({ status, attempt }) => ({ status, attempt }))).toEqual([
      { status: 'failed', attempt: 1 },
      { status: 'done', attempt: 1 },
    ]);
  });

  it('stops after its idle timeout, and the next message starts a new one', async () => {
    send('race', 'first');
    await waitForOutbox(warren, 'race', (r) => r.text === 'echo: first');
    // The hook queues "raced" as the 1 s idle timer fires: the same container must take it rather than stop.
    await waitForOutbox(warren, 'race', (r) => r.text === 'echo: raced');
    await eventually(async () => (await containersOf('race')).length === 0, 'the idle coordinator stopped', 30_000);
    const runs = runsOf('race');
    expect(runs.map((r) => r.status)).toEqual(['done', 'done']);
    expect(runs[0]!.container).toBeTruthy();
    expect(runs[1]!.container).toBe(runs[0]!.container);
    expect(warren.outbox.list('race', { limit: 100 }).filter((r) => r.text === 'echo: raced')).toHaveLength(1);

    send('race', 'again');
    await waitForOutbox(warren, 'race', (r) => r.text === 'echo: again');
    await eventually(async () => (await containersOf('race')).length === 0, 'stopped again', 30_000);
    const third = runsOf('race')[2]!;
    expect(third.status).toBe('done');
    expect(third.container).not.toBe(runs[0]!.container);
  });

  it('a coordinator killed twice in the same turn: the turn fails, the sender is told once, and the next message is answered', async () => {
    const docker = await requireDocker();
    const killed = new Set<string>();
    const killWhileRunning = async (attempt: number) => {
      await eventually(() => runsOf('twice').some((r) => r.status === 'running' && r.attempt === attempt), `attempt ${attempt} running`);
      // The new coordinator, not the one killed before (it may still be listed while it is removed).
      const live = async () => (await containersOf('twice')).filter((c) => c.State === 'running' && !killed.has(c.Id));
      await eventually(async () => (await live()).length === 1, 'its coordinator running');
      const [victim] = await live();
      killed.add(victim!.Id);
      await docker.getContainer(victim!.Id).kill();
    };
    send('twice', 'slow doomed');
    await killWhileRunning(1);
    await killWhileRunning(2);
    await waitForOutbox(warren, 'twice', (r) => /stopped unexpectedly/.test(r.text ?? ''));
    send('twice', 'after');
    await waitForOutbox(warren, 'twice', (r) => r.text === 'echo: after');
    expect(runsOf('twice').map(({ status, attempt }) => ({ status, attempt }))).toEqual([
      { status: 'requeued', attempt: 1 },
      { status: 'failed', attempt: 2 },
      { status: 'done', attempt: 1 },
    ]);
    expect(warren.outbox.list('twice', { limit: 100 }).filter((r) => /stopped unexpectedly/.test(r.text ?? ''))).toHaveLength(1);
  });

  it('a coordinator killed mid-turn: the turn is re-queued once, a new coordinator answers it, once', async () => {
    send('crash', 'slow build');
    // Running, not only created: a container that has not started yet cannot be killed.
    const running = async () => (await containersOf('crash')).filter((c) => c.State === 'running');
    await eventually(async () => (await running()).length === 1, 'coordinator running');
    await eventually(() => runsOf('crash').some((r) => r.status === 'running'), 'turn running');
    const docker = await requireDocker();
    const [victim] = await running();
    await docker.getContainer(victim!.Id).kill();
    await waitForOutbox(warren, 'crash', (r) => r.text === 'slow done: build');
    // Messages that came meanwhile are answered by the new coordinator too.
    send('crash', 'after');
    await waitForOutbox(warren, 'crash', (r) => r.text === 'echo: after');
    const runs = runsOf('crash');
    expect(runs.map(({ status, attempt }) => ({ status, attempt }))).toEqual([
      { status: 'requeued', attempt: 1 },
      { status: 'done', attempt: 2 },
      { status: 'done', attempt: 1 },
    ]);
    expect(warren.outbox.list('crash', { limit: 100 }).filter((r) => r.text === 'slow done: build')).toHaveLength(1);
  });
});

describe('kill -9 of the gateway while a coordinator is inside a turn', () => {
  let tree: TempTree;
  beforeAll(() => {
    tree = tempTree({ 'desk/PERSONA.md': persona(600) });
  });
  afterAll(() => tree.cleanup());

  it('the restarted gateway leaves no orphan, answers the interrupted turn once and keeps every earlier answer', async () => {
    const instance = `coord-crash-${process.pid}`;
    const env = { WARREN_AGENT_IMAGE: (await agentImage()).tag, WARREN_INSTANCE: instance };
    const containers = () => containersWithLabel(`warren.instance=${instance}`);
    const send = (text: string) => expect(cli(['send', 'desk', text, '--tenants', tree.tenants, '--data', tree.data]).status).toBe(0);
    const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
    const view = new OutboxView(db);
    const texts = () => view.list('desk', { limit: 100 }).map((r) => r.text);
    try {
      const first = await startUp(tree, env);
      send('hello');
      await eventually(() => texts().includes('echo: hello'), 'the warm reply');
      send('slow report');
      await eventually(
        () => (db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE status = 'running'`).get() as { n: number }).n === 1,
        'the slow turn running in the coordinator',
      );
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));

      const second = await startUp(tree, env);
      await eventually(() => texts().includes('slow done: report'), 'the interrupted turn answered after the restart');
      send('after');
      await eventually(() => texts().includes('echo: after'), 'a new message answered');
      expect(await second.stop()).toBe(0);
      // Stopping the gateway stops its coordinator: nothing of this instance is left running.
      expect(await containers()).toEqual([]);
      const busy = db
        .prepare(`SELECT (SELECT COUNT(*) FROM runs WHERE status = 'running') + (SELECT COUNT(*) FROM leases)
                       + (SELECT COUNT(*) FROM messages WHERE run IS NULL) AS n`)
        .get() as { n: number };
      expect(busy.n).toBe(0);
      expect(texts().sort()).toEqual(['echo: after', 'echo: hello', 'slow done: report']);
      const runs = db.prepare(`SELECT status, attempt FROM runs ORDER BY started_at, rowid`).all();
      expect(runs).toEqual([
        { status: 'done', attempt: 1 },
        { status: 'requeued', attempt: 1 },
        { status: 'done', attempt: 2 },
        { status: 'done', attempt: 1 },
      ]);
      // After the restart one coordinator took both the re-run and the next message.
      const [rerun, after] = (db.prepare(`SELECT container FROM runs ORDER BY started_at, rowid`).all() as { container: string | null }[]).slice(2);
      expect(rerun!.container).toBeTruthy();
      expect(after!.container).toBe(rerun!.container);
    } finally {
      db.close();
    }
  });
});

describe('an idle coordinator when every container slot is taken', () => {
  let tree: TempTree;
  let warren: Warren;
  beforeAll(async () => {
    tree = tempTree({ 'idler/PERSONA.md': persona(600), 'other/PERSONA.md': `---\nharness: script\n---\n` });
    warren = await startWarren(tree, { env: { MAX_CONCURRENT_CONTAINERS: '1' } });
  });
  afterAll(async () => {
    await warren?.stop();
    tree?.cleanup();
  });

  it('gives its slot up to a waiting turn instead of holding it until its idle timeout', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'idler', text: 'hi', sender: 'ann' });
    await waitForOutbox(warren, 'idler', (r) => r.text === 'echo: hi');
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'other', text: 'me too', sender: 'ann' });
    await waitForOutbox(warren, 'other', (r) => r.text === 'echo: me too', 30_000);
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'idler', text: 'back', sender: 'ann' });
    await waitForOutbox(warren, 'idler', (r) => r.text === 'echo: back', 30_000);
  });
});
