// SwarmRuntime against a real single-node Swarm (its own dockerd from test/helpers/cluster; never the main daemon).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chownSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { silentLogger } from '../../../core/log.js';
import { containerSpec } from '../../../gateway/container-spec.js';
import { SwarmRuntime } from '../../../gateway/runtime/swarm.js';
import { agentImage } from '../../helpers/docker.js';
import { clusterUnsupportedReason, startCluster, type Cluster } from '../../helpers/cluster/index.js';

const INSTANCE = `swt${process.pid}`;
const NETWORK = `warren-${INSTANCE}-egress`;
const MARKER = 'turn-marker-7f3a';

let swarm: { docker: Docker };
let cluster: Cluster | undefined;
let image: string;
let root: string;
let n = 0;

beforeAll(async () => {
  image = (await agentImage()).tag;
  cluster = await startCluster({ workers: 0, images: [image] });
  swarm = cluster.manager;
  await swarm.docker.createNetwork({ Name: NETWORK, Driver: 'overlay', Internal: true, Attachable: false });
  root = realpathSync(mkdtempSync(join(tmpdir(), 'warren-swarm-tree-')));
  mkdirSync(join(root, 'tenants', 'acme', 'home'), { recursive: true });
  chownSync(join(root, 'tenants', 'acme', 'home'), 1000, 1000);
}, 180_000);

afterAll(async () => {
  await cluster?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function spec(script: string, runId = `run_t${++n}`): Docker.ContainerCreateOptions {
  const tenantDir = join(root, 'tenants', 'acme');
  return containerSpec({
    instance: INSTANCE,
    tenant: 'acme',
    runId,
    image,
    tenantDir,
    homeDir: join(tenantDir, 'home'),
    runnerDir: realpathSync(join(import.meta.dirname, '../../../dist/agent')),
    limits: { memory_mb: 128, cpus: 1, pids: 64, timeout_s: 60 },
    extraMounts: [],
    env: { WARREN_TENANT: 'acme' },
    network: { name: NETWORK },
    cmd: ['node', '-e', script],
    tenantFiles: { persona: false, skills: false },
  });
}

const runtime = (placement: string[] = []) =>
  new SwarmRuntime({ docker: swarm.docker, placementFor: () => placement, pollMs: 200, logDrainMs: 2000 });

describe.skipIf(clusterUnsupportedReason() !== null)('SwarmRuntime on a real single-node Swarm', () => {
  it('runs a turn as a one-shot task: turn from the secret file, output streamed and scrubbed, exit code, placement', async () => {
    const lines: string[] = [];
    const placed: { node: string; task: string }[] = [];
    const script = [
      'const fs = require("fs");',
      'const turn = JSON.parse(fs.readFileSync(process.env.WARREN_TURN_FILE, "utf8"));',
      'console.log("got " + turn.marker);',
      'console.error("secret is hunter2");',
      'console.log(fs.readFileSync("/proc/self/status", "utf8").match(/NoNewPrivs:\\s*(\\d)/)[0]);',
      'process.exit(3);',
    ].join('\n');
    const result = await runtime().run(spec(script), {
      stdin: JSON.stringify({ marker: MARKER }) + '\n',
      timeoutMs: 60_000,
      log: silentLogger(),
      redact: (line) => line.replaceAll('hunter2', '[API_TOKEN]'),
      onLine: (line) => lines.push(line),
      onPlaced: (p) => placed.push(p),
    });
    expect(result).toMatchObject({ exitCode: 3, timedOut: false, oomKilled: false });
    expect(lines).toEqual(expect.arrayContaining([`got ${MARKER}`, 'secret is [API_TOKEN]', expect.stringMatching(/NoNewPrivs:\s*1/)]));
    expect(lines.join('\n')).not.toContain('hunter2');
    expect(placed).toHaveLength(1);
    expect(placed[0]!.task).toMatch(/^[a-z0-9]{25}$/);
    expect(placed[0]!.node.length).toBeGreaterThan(0);
    // Nothing of the run is left behind: no service, no secret.
    expect(await swarm.docker.listServices({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
    expect(await swarm.docker.listSecrets({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
  }, 90_000);

  it('keeps the turn out of the service spec, the task and the container (docker service/inspect)', async () => {
    const rt = runtime();
    const running = rt.run(spec('setTimeout(() => {}, 60000)', 'run_inspect'), {
      stdin: JSON.stringify({ marker: MARKER }) + '\n',
      timeoutMs: 60_000,
      log: silentLogger(),
    });
    let service: Docker.Service | undefined;
    let container: unknown;
    let task: unknown;
    for (let i = 0; i < 150 && !container; i++) {
      const [s] = await swarm.docker.listServices({ filters: { label: [`warren.run=run_inspect`] } });
      if (s) {
        service = swarm.docker.getService(s.ID);
        const [t] = await swarm.docker.listTasks({ filters: { service: [s.ID] } });
        task = t;
        const id = (t as { Status?: { ContainerStatus?: { ContainerID?: string } } } | undefined)?.Status?.ContainerStatus?.ContainerID;
        if (id) container = await swarm.docker.getContainer(id).inspect();
      }
      if (!container) await new Promise((r) => setTimeout(r, 200));
    }
    expect(container).toBeDefined();
    const seen = JSON.stringify([await service!.inspect(), task, container]);
    expect(seen).not.toContain(MARKER);
    expect(seen).toContain('/run/secrets/warren-turn.json'); // referenced, by id and path only
    await rt.stop('warren-' + INSTANCE + '-acme-run_inspect', 1);
    const result = await running;
    expect(result.exitCode === 0).toBe(false);
    expect(await swarm.docker.listServices({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
  }, 90_000);

  it('times a run out through the stop path and removes it', async () => {
    const result = await runtime().run(spec('process.on("SIGTERM", () => {}); setTimeout(() => {}, 600000)'), {
      stdin: '{}\n',
      timeoutMs: 3000,
      stopGraceS: 1,
      log: silentLogger(),
    });
    expect(result.timedOut).toBe(true);
    expect(await swarm.docker.listServices({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
  }, 90_000);

  it('fails a run no node may take (placement), saying why, and leaves nothing behind', async () => {
    await expect(
      runtime(['node.labels.gpu==true']).run(spec('process.exit(0)'), { stdin: '{}\n', timeoutMs: 3000, log: silentLogger() }),
    ).rejects.toThrow(/no node started the run within 3000 ms: no suitable node/);
    expect(await swarm.docker.listServices({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
    expect(await swarm.docker.listSecrets({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
  }, 90_000);

  it('places by node label', async () => {
    const [node] = await swarm.docker.listNodes();
    const n = swarm.docker.getNode(node.ID);
    const info = (await n.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
    await n.update({ version: info.Version.Index, ...info.Spec, Labels: { gpu: 'true' } });
    const placed: string[] = [];
    const result = await runtime(['node.labels.gpu==true']).run(spec('process.exit(0)'), {
      stdin: '{}\n',
      timeoutMs: 30_000,
      log: silentLogger(),
      onPlaced: (p) => placed.push(p.node),
    });
    expect(result.exitCode).toBe(0);
    expect(placed).toHaveLength(1);
  }, 90_000);

  it('lists and reaps only this instance’s runs', async () => {
    const rt = runtime();
    const running = rt.run(spec('setTimeout(() => {}, 60000)', 'run_orphan'), { stdin: '{}\n', timeoutMs: 60_000, log: silentLogger() });
    let listed: Awaited<ReturnType<SwarmRuntime['list']>> = [];
    for (let i = 0; i < 100 && listed.length === 0; i++) {
      listed = await rt.list(INSTANCE);
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toMatchObject([{ runId: 'run_orphan', tenant: 'acme' }]);
    expect(await rt.list(`${INSTANCE}x`)).toEqual([]);
    expect(await rt.removeExcept(INSTANCE, ['run_orphan'])).toEqual([]);
    expect(await rt.removeExcept(INSTANCE, [])).toEqual([listed[0]!.id]);
    await running; // the reaped run ends
    expect(await swarm.docker.listSecrets({ filters: { label: [`warren.instance=${INSTANCE}`] } })).toEqual([]);
  }, 90_000);
});
