// `npm run bench:coordinator`: a container per message against a warm coordinator (PERSONA.md `always_on: true`),
// in one run. For N messages each (default 20, sequential): time from message accepted to the first MCP call from
// inside the container, and to the stored reply. Prints medians and p90s.
// Then the "status?" round trip, answered by the gateway without a model: a chat `/status` through the inbound sink
// (message in -> reply in hand) and GET /v1/tenants/:tenant/status over HTTP, BENCH_STATUS times each (default 300,
// sequential), first with nothing running, then while the tenant (a coordinator) has three workers building in
// their own containers. Prints p50/p99 and the ratio of the two p99s.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { silentLogger } from '../core/log.js';
import { PERSONA_FILE } from '../core/tree/layout.js';
import { ensureAgentImage } from '../images/build.js';
import type { InboundEvent } from '../gateway/channels/adapter.js';
import { acceptMessage } from '../gateway/inbound.js';
import { readOperatorToken } from '../gateway/operator-token.js';
import type { Warren } from '../gateway/warren.js';
import { startWarren } from '../cli/start-warren.js';

const TURNS = Number(process.env.BENCH_TURNS ?? 20);
const STATUS_ROUNDS = Number(process.env.BENCH_STATUS ?? 300);
/** The tenant asked for its status: a coordinator that spawns three workers, each building for minutes. */
const BUILDER = `---
harness: script
always_on: true
idle_timeout: 600
script:
  - match: "^spawn three$"
    calls:
      - tool: spawn_worker
        args: { brief: "build frontend" }
      - tool: spawn_worker
        args: { brief: "build backend" }
      - tool: spawn_worker
        args: { brief: "build docs" }
    reply: "spawned three"
  - match: "^build (.*)$"
    work: { hold_ms: 120000 }
    reply: "built $1"
  - match: ".*"
    reply: "ok"
channels:
  - { chat: "tg:-1", engage: always, unknown: public }
---
Benchmark builder.
`;

const persona = (alwaysOn: boolean) => `---
harness: script
always_on: ${alwaysOn}
idle_timeout: 600
script:
  - match: ".*"
    calls:
      - tool: whoami
        args: {}
    reply: "done"
---
Benchmark tenant.
`;

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function main(): Promise<void> {
  const docker = new Docker();
  const image = (await ensureAgentImage({ docker, progress: (m) => process.stderr.write(`${m}\n`) })).tag;
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-coordinator-'));
  for (const [tenant, alwaysOn] of [['cold', false], ['warm', true]] as const) {
    mkdirSync(join(dir, 'tenants', tenant), { recursive: true });
    writeFileSync(join(dir, 'tenants', tenant, PERSONA_FILE), persona(alwaysOn));
  }
  mkdirSync(join(dir, 'tenants', 'builder'), { recursive: true });
  writeFileSync(join(dir, 'tenants', 'builder', PERSONA_FILE), BUILDER);

  const done = new Map<string, () => void>();
  const warren = await startWarren({
    tenantsDir: join(dir, 'tenants'),
    dataDir: join(dir, 'data'),
    log: silentLogger(),
    docker,
    // Room for both coordinators and the three workers at once.
    env: { ...process.env, WARREN_AGENT_IMAGE: image, WARREN_HTTP_PORT: '0', WARREN_WEB_PORT: '0', MAX_CONCURRENT_CONTAINERS: '8' },
    onRunEnd: (run) => done.get(run.tenant)?.(),
  });
  const firstCall = warren.gated.audit.db.prepare(`SELECT MIN(time) AS t FROM audit WHERE run = ?`);
  const runOf = warren.db.prepare(`SELECT run FROM messages WHERE id = ?`);
  const rows: string[] = [];
  const statusRows: string[] = [];
  try {
    for (const tenant of ['cold', 'warm']) {
      process.stderr.write(`${TURNS} messages to ${tenant}...\n`);
      const toFirstCall: number[] = [];
      const toReply: number[] = [];
      for (let i = 0; i < TURNS + 1; i++) {
        const finished = new Promise<void>((resolve) => done.set(tenant, resolve));
        const acceptedAt = Date.now();
        const t0 = performance.now();
        const { id } = acceptMessage(warren.gated.store, warren.gated.registry, { tenant, text: `turn ${i}` });
        warren.loop.wake();
        await finished;
        const elapsed = performance.now() - t0;
        const run = (runOf.get(id) as { run: string }).run;
        const first = (firstCall.get(run) as { t: string | null }).t;
        if (i === 0) continue; // warm-up (for the coordinator: its container start)
        toReply.push(elapsed);
        if (first) toFirstCall.push(Date.parse(first) - acceptedAt);
      }
      const ms = (n: number) => `${n.toFixed(0)} ms`;
      const label = tenant === 'cold' ? '(a) a container per message' : '(b) a warm coordinator';
      rows.push(`| ${label} | ${ms(quantile(toFirstCall, 0.5))} / ${ms(quantile(toFirstCall, 0.9))} | ${ms(quantile(toReply, 0.5))} / ${ms(quantile(toReply, 0.9))} |`);
    }
    statusRows.push(...(await statusBench(warren, join(dir, 'data'))));
  } finally {
    await warren.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    [
      '## coordinator benchmark',
      '',
      `| ${TURNS} messages, sequential | accepted -> first MCP call (p50 / p90) | accepted -> reply stored (p50 / p90) |`,
      '| --- | --- | --- |',
      ...rows,
      '',
      `| "status?" (${STATUS_ROUNDS} sequential, tenant builder) | p50 | p99 |`,
      '| --- | --- | --- |',
      ...statusRows,
      '',
    ].join('\n'),
  );
}

/** The /status round trips, idle and then with three long turns of the tenant running; rows for the table. */
async function statusBench(warren: Warren, dataDir: string): Promise<string[]> {
  const token = readOperatorToken(dataDir);
  const event: InboundEvent = {
    chat: 'tg:-1', thread: null, sender: { id: 'tg:1', name: 'bench' }, text: '/status', platformMessageId: null, replyTo: null,
    direct: false, mentioned: false, command: { name: '/status', args: '' },
  };
  const chat = () => {
    const outcome = warren.inbound!.route(event, { prefix: 'tg', world: null });
    if (outcome.kind !== 'handled') throw new Error(`/status was not answered by the gateway: ${JSON.stringify(outcome)}`);
    return outcome.reply ?? '';
  };
  const rest = async () => {
    const res = await fetch(`${warren.url}/v1/tenants/builder/status`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`GET status answered ${res.status}`);
    return (await res.json()) as unknown;
  };
  const measure = async (f: () => unknown): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < STATUS_ROUNDS; i++) {
      const t0 = performance.now();
      await f();
      out.push(performance.now() - t0);
    }
    return out;
  };
  const idle = { chat: await measure(chat), rest: await measure(rest) };
  process.stderr.write('three workers building...\n');
  acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'builder', text: 'spawn three' });
  warren.loop.wake();
  const deadline = Date.now() + 120_000;
  const running = async () => ((await rest()) as { workers: { state: string }[] }).workers.filter((w) => w.state === 'running').length;
  while ((await running()) < 3) {
    if (Date.now() > deadline) throw new Error('the three workers did not start within 120 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Measured while they build, not while their containers start (a one-off burst of Docker calls and attaches).
  await new Promise((r) => setTimeout(r, 2000));
  const reply = chat();
  if (!reply.includes('workers: 3 running')) throw new Error(`unexpected status while building: ${reply}`);
  const busy = { chat: await measure(chat), rest: await measure(rest) };
  // The workers have served their purpose: cancelled now rather than waited for at shutdown.
  for (const w of warren.gated.store.listWorkers({ tenant: 'builder', active: true })) warren.gated.store.cancelWorker('builder', w.id);
  warren.loop.wake();
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  const row = (label: string, values: number[]) => `| ${label} | ${ms(quantile(values, 0.5))} | ${ms(quantile(values, 0.99))} |`;
  const ratio = (a: number[], b: number[]) => (quantile(a, 0.99) / quantile(b, 0.99)).toFixed(2);
  return [
    row('chat /status, nothing running', idle.chat),
    row('chat /status, three workers building', busy.chat),
    row('REST status, nothing running', idle.rest),
    row('REST status, three workers building', busy.rest),
    `| p99 ratio (building / idle): chat ${ratio(busy.chat, idle.chat)}x, REST ${ratio(busy.rest, idle.rest)}x | | |`,
  ];
}

await main();
