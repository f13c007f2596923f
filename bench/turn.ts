// `npm run bench:turn`: a turn end to end against a bare `docker run`, in one run.
// For N turns (default 20, sequential): time from message accepted to the first MCP call from inside the container,
// and to the stored reply; and `docker run --rm <same image> node -e 0` N times. Prints medians and the ratio.
// Target: our overhead over bare docker run <= 30% at the median.
import { spawnSync } from 'node:child_process';
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

const PERSONA = `---
harness: script
script:
  - match: ".*"
    calls:
      - tool: whoami
        args: {}
    reply: "done"
---
Benchmark tenant.
`;

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(): Promise<void> {
  const docker = new Docker();
  const image = (await ensureAgentImage({ docker, progress: (m) => process.stderr.write(`${m}\n`) })).tag;
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-turn-'));
  mkdirSync(join(dir, 'tenants', 'bench'), { recursive: true });
  writeFileSync(join(dir, 'tenants', 'bench', PERSONA_FILE), PERSONA);

  const done = new Map<string, () => void>();
  const warren = await startWarren({
    tenantsDir: join(dir, 'tenants'),
    dataDir: join(dir, 'data'),
    log: silentLogger(),
    docker,
    http: false,
    env: { ...process.env, WARREN_AGENT_IMAGE: image }, // the real configuration: crackbox egress on unless WARREN_EGRESS says otherwise
    onRunEnd: (run) => done.get(run.tenant)?.(),
  });
  const firstCall = warren.gated.audit.db.prepare(`SELECT MIN(time) AS t FROM audit WHERE run = ?`);
  const runOf = warren.db.prepare(`SELECT run FROM messages WHERE id = ?`);
  const toFirstCall: number[] = [];
  const toReply: number[] = [];
  const bare: number[] = [];
  try {
    process.stderr.write(`${TURNS} turns through warren...\n`);
    for (let i = 0; i < TURNS + 1; i++) {
      const finished = new Promise<void>((resolve) => done.set('bench', resolve));
      const acceptedAt = Date.now();
      const t0 = performance.now();
      const { id } = acceptMessage(warren.gated.store, warren.gated.registry, { tenant: 'bench', text: `turn ${i}` });
      warren.loop.wake();
      await finished;
      const elapsed = performance.now() - t0;
      const run = (runOf.get(id) as { run: string }).run;
      const first = (firstCall.get(run) as { t: string | null }).t;
      if (i === 0) continue; // warm-up
      toReply.push(elapsed);
      if (first) toFirstCall.push(Date.parse(first) - acceptedAt);
    }
    process.stderr.write(`${TURNS} bare docker runs...\n`);
    for (let i = 0; i < TURNS + 1; i++) {
      const t0 = performance.now();
      const r = spawnSync('docker', ['run', '--rm', '--entrypoint', '/usr/local/bin/node', image, '-e', '0']);
      if (r.status !== 0) throw new Error(`docker run failed: ${r.stderr}`);
      if (i > 0) bare.push(performance.now() - t0);
    }
  } finally {
    await warren.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const ratio = median(toReply) / median(bare);
  process.stdout.write(
    [
      '## turn benchmark',
      '',
      `| measure (${TURNS} turns, medians) | time |`,
      '| --- | --- |',
      `| bare \`docker run --rm <image> node -e 0\` (baseline) | ${ms(median(bare))} |`,
      `| message accepted -> first MCP call from inside the container | ${ms(median(toFirstCall))} |`,
      `| message accepted -> reply stored | ${ms(median(toReply))} |`,
      `| ratio reply / bare docker run | ${ratio.toFixed(2)}x (overhead ${((ratio - 1) * 100).toFixed(0)}%, target <= 30%) |`,
      '',
    ].join('\n'),
  );
}

await main();
