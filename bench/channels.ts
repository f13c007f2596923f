// `npm run bench:channels`: what the channel layer costs over the HTTP API, in one run, on real containers (warren
// up's own start, the scripted harness). One world `bench` wired to 50 Telegram DMs on the Bot API stand-in
// (bench/telegram-stand-in.ts, grammY pointed at it with WARREN_TELEGRAM_API_ROOT), and the same turns posted with
// POST /v1/messages on 50 `local:` chats, the reply read back with GET /v1/messages.
// - latency: BENCH_TURNS (default 20) sequential turns per path, alternating: Telegram = update pushed into the
//   stand-in -> sendMessage of the reply received by it; HTTP = POST accepted -> the reply row read back from the
//   outbox over HTTP (asked once the run has ended). p50/p99 and the overhead at p50, end to end and in parts cut at
//   two points both paths share (the message stored, the run ended): the parts leave out the turn, whose jitter on
//   a busy host is far larger than what the channel costs.
// - throughput: 50 chats at once, each sending BENCH_ROUNDS (default 2) messages one after the other (the next once
//   the reply to the one before arrived): messages/s per path.
// Target: channel overhead <= 10 ms at p50 over the HTTP path.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { silentLogger } from '../core/log.js';
import { PERSONA_FILE } from '../core/tree/layout.js';
import { ensureAgentImage } from '../images/build.js';
import { readOperatorToken } from '../gateway/operator-token.js';
import { startWarren } from '../cli/start-warren.js';
import { startTelegramStandIn } from './telegram-stand-in.js';

const TURNS = Number(process.env.BENCH_TURNS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CHATS = 50;
const TOKEN = '123456789:bench-token';
const TG_CHAT = (i: number) => 700_000 + i; // DMs with the bot: positive ids, always addressed

const PERSONA = `---
harness: script
script:
  - match: "^(.*)$"
    reply: "re: $1"
channels:
${Array.from({ length: CHATS }, (_, i) => `  - chat: tg:${TG_CHAT(i)}\n    unknown: public\n`).join('')}---
Benchmark world.
`;

interface Timing {
  total: number;
  toStored: number;
  turn: number;
  afterRunEnd: number;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Promises settled by the text of a reply, whichever path it comes back on. */
class Replies {
  private readonly waiting = new Map<string, () => void>();
  expect(text: string): Promise<void> {
    return new Promise((resolve) => this.waiting.set(`re: ${text}`, resolve));
  }
  seen(text: unknown): void {
    if (typeof text !== 'string') return;
    const resolve = this.waiting.get(text);
    this.waiting.delete(text);
    resolve?.();
  }
}

async function main(): Promise<void> {
  const docker = new Docker();
  const image = (await ensureAgentImage({ docker, progress: (m) => process.stderr.write(`${m}\n`) })).tag;
  const dir = mkdtempSync(join(tmpdir(), 'warren-bench-channels-'));
  mkdirSync(join(dir, 'tenants', 'bench'), { recursive: true });
  writeFileSync(join(dir, 'tenants', 'bench', PERSONA_FILE), PERSONA);

  const replies = new Replies();
  const stand = await startTelegramStandIn({
    token: TOKEN,
    onCall: (call) => call.method === 'sendMessage' && replies.seen(call.params.text),
  });
  let url = '';
  let apiToken = '';
  let outboxCursor = 0;
  let reading = Promise.resolve();
  let runEndedAt = 0; // the latest run's end: in the sequential phase, the turn being timed
  // The HTTP path's read-back: once a run ended its reply row is visible; read the new rows (one read at a time).
  const readOutbox = () =>
    (reading = reading.then(async () => {
      const res = await fetch(`${url}/v1/messages?tenant=bench&after=${outboxCursor}`, { headers: { authorization: `Bearer ${apiToken}` } });
      const page = (await res.json()) as { messages: { text: string }[]; next_after: number };
      for (const row of page.messages) replies.seen(row.text);
      outboxCursor = page.next_after; // held below a turn still running, so no row is skipped
    }));
  const warren = await startWarren({
    tenantsDir: join(dir, 'tenants'),
    dataDir: join(dir, 'data'),
    log: silentLogger(),
    docker,
    env: { ...process.env, WARREN_AGENT_IMAGE: image, WARREN_HTTP_PORT: '0', WARREN_TELEGRAM_API_ROOT: stand.apiRoot },
    credentialFor: (world, name) => (world === 'bench' && name === 'telegram' ? TOKEN : null),
    onRunEnd: () => {
      runEndedAt = performance.now();
      void readOutbox();
    },
  });
  url = warren.url!;
  // Both paths wake the turn loop right after the message is stored (the HTTP route's onAccepted, the inbound sink's
  // onStored): the first wake after a send marks "stored".
  let storedAt = 0;
  const wake = warren.loop.wake.bind(warren.loop);
  warren.loop.wake = () => {
    if (storedAt === 0) storedAt = performance.now();
    wake();
  };
  apiToken = readOperatorToken(join(dir, 'data'));

  let seq = 0;
  const viaTelegram = async (chat: number): Promise<void> => {
    const text = `tg ${chat} ${seq++}`;
    const replied = replies.expect(text);
    stand.push({
      message: { message_id: seq, date: Math.floor(Date.now() / 1000), chat: { id: chat, type: 'private' }, from: { id: chat, is_bot: false, first_name: 'B' }, text },
    });
    await replied;
  };
  const viaHttp = async (chat: number): Promise<void> => {
    const text = `http ${chat} ${seq++}`;
    const replied = replies.expect(text);
    const res = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'bench', text, chat: `local:bench-${chat}` }),
    });
    if (res.status !== 202) throw new Error(`POST /v1/messages: ${res.status} ${await res.text()}`);
    await replied;
  };
  /** One turn's time, and its parts: in -> stored, stored -> the run ended, the run ended -> the reply out. */
  const timed = async (fn: () => Promise<void>): Promise<Timing> => {
    storedAt = 0;
    const t0 = performance.now();
    await fn();
    const t1 = performance.now();
    return { total: t1 - t0, toStored: storedAt - t0, turn: runEndedAt - storedAt, afterRunEnd: t1 - runEndedAt };
  };
  const sustained = async (send: (chat: number) => Promise<void>, chatOf: (i: number) => number): Promise<number> => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CHATS }, async (_, i) => {
      for (let r = 0; r < ROUNDS; r++) await send(chatOf(i));
    }));
    return (CHATS * ROUNDS) / ((performance.now() - t0) / 1000);
  };

  const tg: Timing[] = [];
  const http: Timing[] = [];
  let tgRate = 0;
  let httpRate = 0;
  try {
    process.stderr.write('warm-up...\n');
    await viaTelegram(TG_CHAT(0)); // also waits for the bot to be polling
    await viaHttp(0);
    process.stderr.write(`${TURNS} sequential turns per path...\n`);
    for (let i = 0; i < TURNS; i++) {
      tg.push(await timed(() => viaTelegram(TG_CHAT(i % CHATS))));
      http.push(await timed(() => viaHttp(i % CHATS)));
    }
    process.stderr.write(`${CHATS} chats x ${ROUNDS} messages per path...\n`);
    httpRate = await sustained(viaHttp, (i) => i);
    tgRate = await sustained(viaTelegram, TG_CHAT);
  } finally {
    await warren.stop();
    await stand.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const ms1 = (n: number) => `${n.toFixed(1)} ms`;
  const p = (t: Timing[], part: keyof Timing, q: number) => percentile(t.map((x) => x[part]), q);
  const overhead = p(tg, 'total', 50) - p(http, 'total', 50);
  // The channel layer's own cost, without the turn in between (whose jitter on a busy host is larger than the cost).
  const own = (t: Timing[]) => p(t, 'toStored', 50) + p(t, 'afterRunEnd', 50);
  const channelCost = own(tg) - own(http);
  process.stdout.write(
    [
      '## channels benchmark',
      '',
      `| measure (${TURNS} sequential turns per path; ${CHATS} chats x ${ROUNDS} for messages/s) | Telegram (stand-in) | HTTP API | ratio |`,
      '| --- | --- | --- | --- |',
      `| p50 inbound -> reply delivered / read back | ${ms(p(tg, 'total', 50))} | ${ms(p(http, 'total', 50))} | ${(p(tg, 'total', 50) / p(http, 'total', 50)).toFixed(2)}x |`,
      `| p99 | ${ms(p(tg, 'total', 99))} | ${ms(p(http, 'total', 99))} | ${(p(tg, 'total', 99) / p(http, 'total', 99)).toFixed(2)}x |`,
      `| p50 part: sent -> message stored (update pushed / POST) | ${ms1(p(tg, 'toStored', 50))} | ${ms1(p(http, 'toStored', 50))} | |`,
      `| p50 part: stored -> run ended (the turn, a container) | ${ms(p(tg, 'turn', 50))} | ${ms(p(http, 'turn', 50))} | |`,
      `| p50 part: run ended -> reply delivered (sendMessage) / read back (GET) | ${ms1(p(tg, 'afterRunEnd', 50))} | ${ms1(p(http, 'afterRunEnd', 50))} | |`,
      `| messages/s sustained over ${CHATS} chats | ${tgRate.toFixed(2)} | ${httpRate.toFixed(2)} | ${(tgRate / httpRate).toFixed(2)}x |`,
      '',
      `channel overhead at p50, end to end: ${overhead.toFixed(1)} ms (includes the turns' jitter)`,
      `channel overhead at p50, the channel's own parts (in -> stored + run ended -> out): ${channelCost.toFixed(1)} ms (target <= 10 ms): ${channelCost <= 10 ? 'met' : 'NOT met'}`,
      '',
    ].join('\n'),
  );
}

await main();
