import { describe, it, expect, beforeAll } from 'vitest';
import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CLAUDE_CODE_VERSION } from '../../images/claude-code.js';
import { agentImageTag, ensureAgentImage, importChanges, splitReference, warrenVersion } from '../../images/build.js';
import { agentImage, requireDocker } from '../helpers/docker.js';

const dockerfile = readFileSync(fileURLToPath(new URL('../../images/agent/Dockerfile', import.meta.url)), 'utf8');
const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };

describe('image naming and config', () => {
  it('tags warren/agent:<package.json version>', () => {
    expect(warrenVersion()).toBe(pkg.version);
    expect(agentImageTag()).toBe(`warren/agent:${pkg.version}`);
  });

  it.each([
    ['warren/agent:0.1.0', { repo: 'warren/agent', tag: '0.1.0' }],
    ['warren/agent', { repo: 'warren/agent', tag: 'latest' }],
    ['registry:5000/warren/agent', { repo: 'registry:5000/warren/agent', tag: 'latest' }],
    ['registry:5000/warren/agent:t1', { repo: 'registry:5000/warren/agent', tag: 't1' }],
  ])('splits %s', (ref, expected) => {
    expect(splitReference(ref)).toEqual(expected);
  });

  it('configures a non-root user, the home and the mounted runner as entrypoint', () => {
    const changes = importChanges({ version: '1.2.3', node: 'v20.0.0', claudeCode: null });
    expect(changes).toContain('USER 1000:1000');
    expect(changes).toContain('WORKDIR /home/node');
    expect(changes).toContain('ENV HOME=/home/node');
    expect(changes).toContain('ENTRYPOINT ["/usr/local/bin/node","/opt/warren/runner/main.js"]');
    expect(changes.find((c) => c.startsWith('LABEL'))).toContain('warren.version=1.2.3');
  });

  it('sets SHELL=/bin/bash only in the Claude Code image, the one that has bash', () => {
    expect(importChanges({ version: '1', node: 'v20.0.0', claudeCode: null }).some((c) => c.includes('SHELL'))).toBe(false);
    expect(importChanges({ version: '1', node: 'v20.0.0', claudeCode: '2.1.329' })).toContain('ENV SHELL=/bin/bash');
  });

  it('the Dockerfile route pins the same Claude Code, user, base and entrypoint', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toContain(`ARG CLAUDE_CODE_VERSION=${CLAUDE_CODE_VERSION}`);
    expect(dockerfile).toMatch(/^USER 1000:1000$/m);
    expect(dockerfile).toMatch(/^WORKDIR \/home\/node$/m);
    expect(dockerfile).toContain('ENTRYPOINT ["/usr/local/bin/node", "/opt/warren/runner/main.js"]');
  });
});

async function runInImage(docker: Docker, image: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const [res] = (await docker.run(image, cmd, out, {
    Entrypoint: [],
    HostConfig: { AutoRemove: true, NetworkMode: 'none' },
  })) as [{ StatusCode: number }];
  return { code: res.StatusCode, out: text };
}

describe('the offline-built agent image (real Docker)', () => {
  let docker: Docker;
  let image: { tag: string; id: string };
  beforeAll(async () => {
    docker = await requireDocker();
    image = await agentImage();
  });

  it('is tagged and labelled, runs as 1000:1000 in /home/node', async () => {
    const info = await docker.getImage(agentImageTag()).inspect();
    expect(info.Id).toBe(image.id);
    expect(info.Config.User).toBe('1000:1000');
    expect(info.Config.WorkingDir).toBe('/home/node');
    expect(info.Config.Env).toContain('HOME=/home/node');
    expect(info.Config.Entrypoint).toEqual(['/usr/local/bin/node', '/opt/warren/runner/main.js']);
    expect(info.Config.Labels).toMatchObject({ 'warren.image': 'agent', 'warren.version': pkg.version });
  });

  it('runs node with the host version, as the node user, with TLS roots', async () => {
    const script =
      "const os=require('os'),fs=require('fs');" +
      "console.log(JSON.stringify({v:process.version,uid:process.getuid(),user:os.userInfo().username,home:os.homedir()," +
      "ca:fs.existsSync('/etc/ssl/certs/ca-certificates.crt'),homeOwner:fs.statSync('/home/node').uid}))";
    const { code, out } = await runInImage(docker, image.tag, ['/usr/local/bin/node', '-e', script]);
    expect(code).toBe(0);
    expect(JSON.parse(out.trim())).toEqual({
      v: process.version,
      uid: 1000,
      user: 'node',
      home: '/home/node',
      ca: readFileSyncExists('/etc/ssl/certs/ca-certificates.crt'),
      homeOwner: 1000,
    });
  });

  it('ensureAgentImage does not rebuild an existing tag', async () => {
    const again = await ensureAgentImage({ docker, progress: () => expect.fail('must not build again') });
    expect(again).toEqual(image);
  });
});

function readFileSyncExists(p: string): boolean {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}
