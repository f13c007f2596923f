// `npm run bench:coordinator`: a container per message against a warm coordinator (PERSONA.md `always_on: true`),
// in one run. For N messages each (default 20, sequential): time from message accepted to the first MCP call from
// inside the container, and to the stored reply. Prints medians and p90s.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { silentLogger } from '../core/log.js';
import { PERSONA_FILE } from '../core/tree/layout.js';
import { ensureAgentImage } from '../images/build.js';
import { acceptMessage } from '../gateway/inbound.js';
import { startWarren } from '../cli/start-warren.js';

const TURNS = Number(process.env.BENCH_TURNS ?? 20);

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

  const done = new Map<string, () => void>();
  const warren = await startWarren({
    tenantsDir: join(dir, 'tenants'),
    dataDir: join(dir, 'data'),
    log: silentLogger(),
    docker,
    http: false,
    env: { ...process.env, WARREN_AGENT_IMAGE: image },
    onRunEnd: (run) => done.get(run.tenant)?.(),
  });
  const firstCall = warren.gated.audit.db.prepare(`SELECT MIN(time) AS t FROM audit WHERE run = ?`);
  const runOf = warren.db.prepare(`SELECT run FROM messages WHERE id = ?`);
  const rows: string[] = [];
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
    ].join('\n'),
  );
}

await main();
