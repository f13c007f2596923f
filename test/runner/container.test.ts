// The bundle where it really runs: the agent image as entrypoint, read-only rootfs, tmpfs /tmp, no network, uid 1000,
// the runner mounted read-only at /opt/warren and the run socket at /run/gated/gated.sock (real Docker).
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { CONTAINER_PATHS } from '../../core/container.js';
import type { TurnInput, TurnResult } from '../../core/turn.js';
import { Gated } from '../../gated/broker.js';
import { CLAUDE_MISSING } from '../../images/agent/runner/claude/harness.js';
import { agentImage, requireDocker } from '../helpers/docker.js';
import { standardTree, type TempTree } from '../helpers/tree.js';
import { buildRunner, logRecords, message, turnInput, type BuiltRunner } from './helpers.js';

describe('runner in the agent container (real Docker)', () => {
  let docker: Docker;
  let image: string;
  let tree: TempTree;
  let gated: Gated;
  let runner: BuiltRunner;

  beforeAll(async () => {
    docker = await requireDocker();
    image = (await agentImage()).tag;
    runner = buildRunner();
    chmodSync(runner.dir, 0o755); // what is mounted at /opt/warren must be readable by uid 1000
    tree = standardTree();
    gated = await Gated.start({ tenantsDir: tree.tenants, dataDir: tree.data, log: silentLogger(), watch: false });
  });
  afterAll(async () => {
    await gated?.stop();
    tree?.cleanup();
    runner?.cleanup();
  });

  async function runInContainer(turn: TurnInput, binds: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const container = await docker.createContainer({
      Image: image,
      User: '1000:1000',
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Labels: { 'warren.test': 'runner' },
      HostConfig: {
        ReadonlyRootfs: true,
        NetworkMode: 'none',
        Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=16m' },
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        Binds: [`${runner.dir}:/opt/warren:ro`, ...binds],
      },
    });
    try {
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const out = new PassThrough();
      const err = new PassThrough();
      let stdout = '';
      let stderr = '';
      out.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      err.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
      docker.modem.demuxStream(stream, out, err);
      const ended = new Promise<void>((resolve) => stream.on('end', resolve));
      await container.start();
      stream.end(JSON.stringify(turn));
      const { StatusCode } = (await container.wait()) as { StatusCode: number };
      await ended;
      return { code: StatusCode, stdout, stderr };
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }

  it('reads the turn on stdin, calls gated through the mounted socket and reports, with secrets kept out of logs', async () => {
    const submitted: TurnResult[] = [];
    const sock = await gated.openRunSocket('acme', { id: 'docker-1', topic: 'main', chat: 'local:ann', depth: 0 }, {
      owner: { uid: 1000, gid: 1000 },
      onSubmit: (r) => submitted.push(r),
    });
    const persona = join(tree.root, 'PERSONA.md');
    writeFileSync(persona, '---\nname: acme\n---\nBody.\n');
    try {
      const secret = 'sk-docker-test-5566778899';
      const script = [
        { match: '^who$', calls: [{ tool: 'whoami' }], reply: 'me: {{result}}' },
        { match: '^ask (\\S+) (.*)$', calls: [{ tool: 'delegate_group', args: { group: '$1', prompt: '$2' } }], reply: '{{error}}|{{result}}' },
        { match: '^env$', reply: 'token={{env.WARREN_TEST_TOKEN}}' },
      ];
      const turn = turnInput({
        tenant: 'acme',
        script,
        env: { WARREN_TEST_TOKEN: secret },
        messages: [message('who'), message('ask acme/support fix it', { id: 2 }), message('env', { id: 3 })],
      });
      const run = await runInContainer(turn, [`${sock.socketPath}:${CONTAINER_PATHS.socket}`, `${persona}:${CONTAINER_PATHS.persona}:ro`]);
      expect(run.code).toBe(0);
      expect(submitted).toHaveLength(1);
      const result = submitted[0]!.result;
      expect(submitted[0]!.status).toBe('ok');
      expect(result).toMatch(/^me: \{.*"tenant":"acme".*"run":"docker-1"/s);
      expect(result).toMatch(/\n\|delegated to acme\/support as \S+/);
      expect(result).toMatch(new RegExp(`\\ntoken=${secret}$`));
      expect(logRecords(run.stderr).map((r) => r.msg)).toContain('turn reported');
      expect(run.stdout + run.stderr).not.toContain(secret);
    } finally {
      await sock.close();
    }
  });

  it('the claude-code harness in an image without the CLI reports that as the error', async () => {
    const submitted: TurnResult[] = [];
    const sock = await gated.openRunSocket('acme', { id: 'docker-2', topic: 'main', chat: null, depth: 0 }, {
      owner: { uid: 1000, gid: 1000 },
      onSubmit: (r) => submitted.push(r),
    });
    try {
      const labels = (await docker.getImage(image).inspect()).Config.Labels ?? {};
      const hasClaude = (labels['warren.image.claude-code'] ?? 'none') !== 'none';
      const run = await runInContainer(turnInput({ tenant: 'acme', harness: 'claude-code' }), [`${sock.socketPath}:${CONTAINER_PATHS.socket}`]);
      expect(run.code).toBe(0);
      expect(submitted).toHaveLength(1);
      expect(submitted[0]!.status).toBe('error');
      // With the CLI baked in it runs and fails for want of a model key and network; without it, it says so.
      if (!hasClaude) expect(submitted[0]!.result).toBe(CLAUDE_MISSING);
    } finally {
      await sock.close();
    }
  });
});
