// `warren crackbox run | status | prune` for real (built CLI, real Docker and iptables), and the external mode of
// `warren up`: its egressFor only hands out a network while a separate crackbox serves it with the rules in place.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type Docker from 'dockerode';
import { runCommand } from '../../../crackbox/firewall.js';
import { chainNames } from '../../../crackbox/firewall-rules.js';
import { egressConfig } from '../../../crackbox/egress-config.js';
import { externalEgress } from '../../../crackbox/external.js';
import { readStatusFile } from '../../../crackbox/status-file.js';
import command from '../../../crackbox/cli/crackbox.js';
import { requireDocker } from '../../helpers/docker.js';
import { requireBuilt, warren } from '../../helpers/cli.js';
import { tempTree, type TempTree } from '../../helpers/tree.js';
import { eventually } from '../../helpers/wait.js';
import { FakeUpstream } from '../helpers.js';

const INSTANCE = `cbxc${process.pid % 100000}`;

describe('warren crackbox', () => {
  let docker: Docker;
  let tree: TempTree;
  let upstream: FakeUpstream;
  let child: ChildProcess | undefined;
  let stderr = '';
  let env: Record<string, string>;

  async function statusText(): Promise<string> {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      expect(await command.run(['status'], { tenants: tree.tenants, data: tree.data })).toBe(0);
    } finally {
      process.env = saved;
      vi.restoreAllMocks();
    }
    return out;
  }

  beforeAll(async () => {
    requireBuilt();
    docker = await requireDocker();
    tree = tempTree({
      'acme/PERSONA.md': '---\nname: acme\n---\nacme\n',
      'acme/allowlist': 'allowed.test\n',
      'beta/PERSONA.md': '---\nname: beta\n---\nbeta\n',
    });
    upstream = await new FakeUpstream().start();
    env = { WARREN_INSTANCE: INSTANCE, WARREN_EGRESS_UPSTREAM: `127.0.0.1:${upstream.port}`, WARREN_EGRESS_KEEP_NETWORKS: '1' };
  });

  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    for (const n of await docker.listNetworks({ filters: { label: [`warren.instance=${INSTANCE}`] } })) {
      await docker.getNetwork(n.Id).remove().catch(() => undefined);
    }
    await upstream?.stop();
    tree?.cleanup();
  });

  it('run: serves every tenant; status shows networks, listeners and rules; external egress works only meanwhile', async () => {
    const external = externalEgress({ docker, instance: INSTANCE, config: egressConfig(env), dataDir: tree.data });
    await expect(external('acme')).rejects.toThrow(/not running/);

    child = spawn(process.execPath, [requireBuilt(), 'crackbox', 'run', '--tenants', tree.tenants, '--data', tree.data], {
      env: { ...process.env, ...env, WARREN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await eventually(() => {
      const s = readStatusFile(tree.data);
      return s && s.listeners.length === 2 ? s : null;
    }, 'crackbox run to serve both tenants', 30_000);
    expect(status.instance).toBe(INSTANCE);
    expect(status.listeners.map((l) => l.tenant).sort()).toEqual(['acme', 'beta']);

    const text = await statusText();
    expect(text).toContain(`crackbox ${INSTANCE}: running (pid ${status.pid}`);
    for (const l of status.listeners) expect(text).toMatch(new RegExp(`${l.tenant}\\s+${l.network}\\s+${l.subnet.replace(/\./g, '\\.')}\\s+${l.gateway.replace(/\./g, '\\.')}\\s+${l.bridge}\\s+dns\\+proxy\\s+0`));
    expect(text).toContain(`-A INPUT -j ${chainNames(INSTANCE).input}`);
    expect(text).toContain('firewall check: ok');

    const acme = status.listeners.find((l) => l.tenant === 'acme')!;
    expect(await external('acme')).toEqual({
      network: acme.network,
      dns: [acme.gateway],
      env: expect.objectContaining({ HTTPS_PROXY: `http://${acme.gateway}:3128` }),
    });

    // Rules tampered with: external mode refuses (it cannot repair them itself).
    await runCommand('iptables', ['-w', '-D', chainNames(INSTANCE).input, '-i', acme.bridge, '-j', 'DROP']);
    await expect(external('acme')).rejects.toThrow(/firewall rules are not in place/);
    expect(await statusText()).toMatch(/firewall check: 1 problem/);

    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    expect(child.exitCode, stderr).toBe(0);
    expect(readStatusFile(tree.data)).toBeNull();
    await expect(external('acme')).rejects.toThrow(/not running/);
    const after = await statusText();
    expect(after).toContain('not running');
    expect(after).toContain('firewall (ipv4): no rules');
    expect(after).toContain(acme.network); // networks outlive a stop (KEEP_NETWORKS=1)
  });

  it('prune removes this instance\'s unused networks', () => {
    const r = warren(['crackbox', 'prune', '--tenants', tree.tenants, '--data', tree.data], { env });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.match(/^removed /gm)).toHaveLength(2);
  });

  it('usage errors', () => {
    const r = warren(['crackbox', 'fly'], { env });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown subcommand: fly');
  });
});
