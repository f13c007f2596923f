// Issue 8: one tenant's hostile clients (one that never reads its replies, sixty that hold half frames) cost a real
// `warren gated` neither its memory nor other tenants their answers, and never keep it from stopping.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, textOf } from '../helpers/mcp.js';
import {
  halfFrameClient,
  neverReadingClient,
  startGatedProcess,
  type GatedProcess,
  type NeverReadingClient,
} from '../helpers/gated-process.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

const HOSTILE = 'acme';
const OTHERS = ['globex', 'initech', 'hooli', 'umbrella'];
const CLIENTS_PER_OTHER = 5; // 20 in all
const CALLS_PER_CLIENT = 100;
const HALF_FRAME_CLIENTS = 60;
const MB = 1024 * 1024;

let tree: TempTree;
let gated: GatedProcess;

beforeAll(async () => {
  tree = tempTree({ 'root/PERSONA.md': '---\nname: root\n---\nThe operator.\n', ...Object.fromEntries([HOSTILE, ...OTHERS].map((t) => [`${t}/`, ''])) });
  gated = await startGatedProcess(tree, [HOSTILE, ...OTHERS]);
});

afterAll(async () => {
  gated?.child.kill('SIGKILL');
  await gated?.exited;
  tree?.cleanup();
});

/** Each client makes `calls` whoami calls one after another; every answer must name the client's own tenant. */
async function legitimateTraffic(calls: number): Promise<number> {
  const clients: { tenant: string; client: Client }[] = [];
  for (const tenant of OTHERS) {
    for (let i = 0; i < CLIENTS_PER_OTHER; i++) clients.push({ tenant, client: await connectClient(gated.socketPath(tenant)) });
  }
  let correct = 0;
  await Promise.all(
    clients.map(async ({ tenant, client }) => {
      for (let i = 0; i < calls; i++) {
        const result = await client.callTool({ name: 'whoami', arguments: {} });
        if (!result.isError && JSON.parse(textOf(result)).tenant === tenant) correct++;
      }
      await client.close();
    }),
  );
  return correct;
}

/** The attack, once gated has stopped reading from the never-reading client (its writes wait). */
async function hostileClients(): Promise<{ sockets: Socket[]; neverReading: NeverReadingClient }> {
  const neverReading = await neverReadingClient(gated.socketPath(HOSTILE));
  const halves: Socket[] = [];
  for (let i = 0; i < HALF_FRAME_CLIENTS; i++) halves.push(await halfFrameClient(gated.socketPath(HOSTILE)));
  await eventually(() => neverReading.blocked(), 'gated to stop reading from the never-reading client', 10_000);
  return { sockets: [neverReading.socket, ...halves], neverReading };
}

describe('warren gated under hostile clients', () => {
  it("keeps its memory and other tenants' answers while one tenant's clients misbehave, and serves at once after", async () => {
    // Idle: after the same legitimate traffic once, so what is measured next is the attack, not warming up.
    expect(await legitimateTraffic(CALLS_PER_CLIENT)).toBe(OTHERS.length * CLIENTS_PER_OTHER * CALLS_PER_CLIENT);
    const idleRss = gated.rss();

    const hostile = await hostileClients();
    let peakRss = gated.rss();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, gated.rss())), 20);
    try {
      const correct = await legitimateTraffic(CALLS_PER_CLIENT);
      expect(correct).toBe(OTHERS.length * CLIENTS_PER_OTHER * CALLS_PER_CLIENT);
      // gated still reads nothing from it: it never took a reply, so its flood stays in its own socket.
      expect(hostile.neverReading.blocked()).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(peakRss - idleRss).toBeLessThan(50 * MB);

    for (const s of hostile.sockets) s.destroy();
    // "At once": a bounded wait for liveness, far below the 25 s to minutes the issue measured.
    for (const tenant of [...OTHERS, HOSTILE]) {
      const client = await connectClient(gated.socketPath(tenant));
      const answered = Promise.race([
        client.callTool({ name: 'whoami', arguments: {} }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${tenant} not answered within 2 s`)), 2000)),
      ]);
      expect(JSON.parse(textOf(await answered)).tenant).toBe(tenant);
      await client.close();
    }
  });

  it('stops within 5 s of SIGTERM with the hostile clients still connected', async () => {
    const hostile = await hostileClients();
    gated.child.kill('SIGTERM');
    const code = await Promise.race([gated.exited, new Promise((r) => setTimeout(() => r('still running after 5 s'), 5000))]);
    expect(code).toBe(0);
    for (const s of hostile.sockets) s.destroy();
  });
});
