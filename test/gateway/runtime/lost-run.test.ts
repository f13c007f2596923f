// The turn loop's side of a node lost mid-turn, with a runtime that reports the loss on cue and real gated over
// HTTPS: the lost run's token is dead before the turn runs again, so its late result is refused; the re-run answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { silentLogger } from '../../../core/log.js';
import type { GatedEndpoint } from '../../../core/turn.js';
import { acceptMessage } from '../../../gateway/inbound.js';
import type { AgentRunOptions, AgentRuntime, RunResult } from '../../../gateway/runtime/runtime.js';
import { Warren } from '../../../gateway/warren.js';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { SUBMIT_TURN_METHOD, type TurnResult } from '../../../core/turn.js';
import { connectHttp } from '../../gated/http/client.js';
import { agentImage, requireDocker } from '../../helpers/docker.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { waitForOutbox } from '../../helpers/warren.js';
import { eventually } from '../../helpers/wait.js';

/** A task's client of its run endpoint: the SDK's, through the runner's pinned fetch. */
async function connectTask(gated: GatedEndpoint) {
  const { client, close } = await connectHttp({ url: gated.url, token: gated.token, caPem: gated.ca });
  return {
    submit: (result: TurnResult) => client.request({ method: SUBMIT_TURN_METHOD, params: result }, EmptyResultSchema),
    close,
  };
}

/** Run 1: connects like a real task, then its node is "lost". Run 2: reports a result and exits 0. */
class LosingRuntime implements AgentRuntime {
  readonly kind = 'losing';
  readonly gatedAccess = 'https' as const;
  readonly endpoints: GatedEndpoint[] = [];
  lostClient: Awaited<ReturnType<typeof connectTask>> | null = null;

  async run(spec: Docker.ContainerCreateOptions, opts: AgentRunOptions): Promise<RunResult> {
    const turn = JSON.parse(opts.stdin) as { gated: GatedEndpoint; messages: { text: string }[] };
    this.endpoints.push(turn.gated);
    const client = await connectTask(turn.gated);
    const base = { timedOut: false, oomKilled: false, durationMs: 1, containerId: spec.name! };
    if (this.endpoints.length === 1) {
      this.lostClient = client; // the task lives on, on a node the manager no longer sees
      return { ...base, exitCode: null, lost: true };
    }
    if (turn.messages.some((m) => m.text === 'lose always')) {
      await client.close();
      return { ...base, exitCode: null, lost: true };
    }
    await client.submit({ status: 'ok', result: 'answered by the re-run' });
    await client.close();
    return { ...base, exitCode: 0 };
  }
  async stop(): Promise<void> {}
  async list() {
    return [];
  }
  async removeExcept() {
    return [];
  }
}

describe('a run lost with its node (real gated over HTTPS)', () => {
  let tree: TempTree;
  let warren: Warren;
  const runtime = new LosingRuntime();

  beforeAll(async () => {
    tree = tempTree({ 'root/PERSONA.md': '---\nname: root\n---\nroot\n', 'acme/PERSONA.md': '---\nname: acme\nharness: script\n---\nacme\n' });
    warren = await Warren.start({
      tenantsDir: tree.tenants,
      dataDir: tree.data,
      log: silentLogger(),
      docker: await requireDocker(),
      http: false,
      runtime,
      env: { WARREN_GATED_HTTP: '127.0.0.1:0', WARREN_AGENT_IMAGE: (await agentImage()).tag, WARREN_INSTANCE: `lost${process.pid}`, WARREN_POLL_MS: '50' },
    });
  }, 120_000);
  afterAll(async () => {
    await runtime.lostClient?.close();
    await warren?.stop();
    tree?.cleanup();
  });

  it('is re-queued once with its token revoked: its late result is refused, the re-run answers once', async () => {
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme', text: 'hello', sender: 'ann' });
    warren.loop.wake();
    const reply = await waitForOutbox(warren, 'acme', (r) => r.text === 'answered by the re-run');
    const runs = () => warren.db.prepare(`SELECT status, attempt FROM runs WHERE tenant = 'acme' ORDER BY rowid`).all();
    expect(runs()).toEqual([
      { status: 'requeued', attempt: 1 },
      { status: 'done', attempt: 2 },
    ]);
    // The lost task reports late, on the session it had and with a new one: both refused.
    await expect(runtime.lostClient!.submit({ status: 'ok', result: 'the late result' })).rejects.toThrow();
    await expect(connectTask(runtime.endpoints[0]!)).rejects.toThrow();
    await eventually(() => runs().length === 2, 'nothing more ran');
    expect(runs()[0]).toEqual({ status: 'requeued', attempt: 1 });
    expect(warren.db.prepare(`SELECT text FROM outbox WHERE tenant = 'acme'`).all()).toEqual([{ text: reply.text }]);
  }, 60_000);

  it('lost a second time, the turn fails and says so', async () => {
    const before = (warren.db.prepare(`SELECT count(*) AS n FROM runs`).get() as { n: number }).n;
    acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'acme', text: 'lose always', sender: 'ann' });
    warren.loop.wake();
    const reply = await waitForOutbox(warren, 'acme', (r) => (r.text ?? '').includes('lost with its node twice'));
    expect(reply.text).toMatch(/^⚠ the agent was lost with its node twice/);
    const runs = warren.db.prepare(`SELECT status, attempt FROM runs WHERE tenant = 'acme' ORDER BY rowid`).all().slice(before);
    expect(runs).toEqual([
      { status: 'requeued', attempt: 1 },
      { status: 'failed', attempt: 2 },
    ]);
  }, 60_000);
});
