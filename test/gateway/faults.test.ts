// Faults with real containers: kill -9 of the gateway mid-turn, and containers that break their limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWarrenDb } from '../../core/warren-db.js';
import { GATEWAY_MIGRATIONS } from '../../gateway/migrations.js';
import { OutboxView } from '../../gateway/outbox-view.js';
import type { Warren } from '../../gateway/warren.js';
import { acceptMessage } from '../../gateway/inbound.js';
import { agentImage, containersWithLabel } from '../helpers/docker.js';
import { warren as cli } from '../helpers/cli.js';
import { startUp } from '../helpers/up.js';
import { startWarren, waitForOutbox } from '../helpers/warren.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

const SLOW = `---
harness: script
script:
  - match: "^slow (.*)$"
    work: { hold_ms: 4000 }
    reply: "slow done: $1"
  - match: ".*"
    reply: "echo: $0"
---
`;

describe('kill -9 of the gateway during a turn', () => {
  let tree: TempTree;
  beforeAll(() => {
    tree = tempTree({ 'acme/PERSONA.md': SLOW });
  });
  afterAll(() => tree.cleanup());

  it('loses no message, shows no duplicate reply and leaves no orphan container', async () => {
    const instance = `crash-${process.pid}`;
    const env = { WARREN_AGENT_IMAGE: (await agentImage()).tag, WARREN_INSTANCE: instance };
    const first = await startUp(tree, env);
    const sent = cli(['send', 'acme', 'slow report', '--tenants', tree.tenants, '--data', tree.data]);
    expect(sent.status).toBe(0);
    await eventually(async () => (await containersWithLabel(`warren.instance=${instance}`)).length === 1, 'container running');
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    // The container may outlive its gateway (an orphan until the restart reconciles) or end by itself when its run
    // socket goes away; either way none may be left once the restarted gateway has reconciled.
    expect((await containersWithLabel(`warren.instance=${instance}`)).length).toBeLessThanOrEqual(1);

    const second = await startUp(tree, env);
    const db = openWarrenDb(tree.data, GATEWAY_MIGRATIONS);
    try {
      const view = new OutboxView(db);
      await eventually(() => view.list('acme').find((r) => r.text === 'slow done: report'), 'reply after restart');
      // A duplicate could only come from work still going on: a run still running, a message not yet claimed, a
      // lease still held, or a container (the orphan, or the re-run's) still alive. Wait until all of that is over.
      await eventually(async () => {
        const busy = db
          .prepare(`SELECT (SELECT COUNT(*) FROM runs WHERE status = 'running') + (SELECT COUNT(*) FROM leases)
                         + (SELECT COUNT(*) FROM messages WHERE run IS NULL) AS n`)
          .get() as { n: number };
        return busy.n === 0 && (await containersWithLabel(`warren.instance=${instance}`)).length === 0;
      }, 'every run finished, every message claimed, every lease released and no container left');
      expect(view.list('acme').filter((r) => r.text === 'slow done: report')).toHaveLength(1);
      const runs = db.prepare(`SELECT status, attempt FROM runs ORDER BY started_at`).all();
      expect(runs).toEqual([{ status: 'requeued', attempt: 1 }, { status: 'done', attempt: 2 }]);
    } finally {
      db.close();
      expect(await second.stop()).toBe(0);
    }
  });
});

describe('containers that break their limits', () => {
  let tree: TempTree;
  let warren: Warren;

  beforeAll(async () => {
    tree = tempTree({
      'hog/PERSONA.md': `---\nharness: script\nlimits: { memory_mb: 64 }\nscript:\n  - match: ".*"\n    work: { alloc_mb: 400 }\n    reply: "survived"\n---\n`,
      'sleeper/PERSONA.md': `---\nharness: script\nlimits: { timeout_s: 2 }\nscript:\n  - match: ".*"\n    work: { hold_ms: 60000 }\n    reply: "woke up"\n---\n`,
    });
    warren = await startWarren(tree);
  });
  afterAll(async () => {
    await warren.stop();
    tree.cleanup();
  });

  it('a container over its memory limit ends and the chat gets a clear failure message', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'hog', text: 'go', sender: 'ann' });
    warren.loop.wake();
    const reply = await waitForOutbox(warren, 'hog', () => true);
    expect(reply.text).toBe('⚠ the agent ran out of memory (limit 64 MB) and was stopped');
  });

  it('a container over its time limit is stopped and the chat gets a clear failure message', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'sleeper', text: 'go', sender: 'ann' });
    warren.loop.wake();
    const reply = await waitForOutbox(warren, 'sleeper', () => true);
    expect(reply.text).toBe('⚠ the agent ran out of time (limit 2 s) and was stopped');
  });
});
