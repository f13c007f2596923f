import { describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import { containerSpec, type ContainerSpecInput } from '../../../gateway/container-spec.js';
import { swarmServiceSpec, SwarmSpecError, TURN_FILE, type SwarmRunFacts } from '../../../gateway/runtime/swarm-spec.js';

const T = '/srv/warren/tenants';

function created(over: Partial<ContainerSpecInput> = {}): Docker.ContainerCreateOptions {
  const tenantDir = `${T}/acme/support`;
  return containerSpec({
    instance: 'prod',
    tenant: 'acme/support',
    runId: 'run_0b5e',
    network: { name: 'warren-prod-egress-acme', dns: ['10.0.9.2'] },
    image: 'warren/agent:0.1.0',
    tenantDir,
    homeDir: `${tenantDir}/home`,
    runnerDir: '/opt/warren-dist',
    limits: { memory_mb: 512, cpus: 1.5, pids: 128, timeout_s: 300 },
    extraMounts: [{ source: '/srv/data', target: '/data', readonly: true }],
    env: { WARREN_TENANT: 'acme/support' },
    tenantFiles: { persona: true, skills: false },
    ...over,
  });
}

const FACTS: SwarmRunFacts = {
  placement: ['node.labels.gpu==true', 'node.role==worker'],
  turnSecret: { id: 'sec123', name: 'warren-prod-acme.support-r1-turn' },
  stopGraceS: 5,
};

const LABELS = { 'warren.instance': 'prod', 'warren.tenant': 'acme/support', 'warren.run': 'run_0b5e' };

describe('swarmServiceSpec: one run as a one-shot Swarm job', () => {
  const spec = swarmServiceSpec(created(), FACTS);
  const task = spec.TaskTemplate as Docker.ContainerTaskSpec;
  const c = task.ContainerSpec!;
  it.each<[string, unknown, unknown]>([
    ['service named by its run', spec.Name, 'warren-run_0b5e'],
    ['a replicated job of one completion', spec.Mode, { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } }],
    ['never restarted by Swarm', task.RestartPolicy, { Condition: 'none', MaxAttempts: 0 }],
    ['placement from PERSONA.md', task.Placement, { Constraints: ['node.labels.gpu==true', 'node.role==worker'] }],
    ['labels on the service', spec.Labels, LABELS],
    ['labels on its container', c.Labels, LABELS],
    ['image', c.Image, 'warren/agent:0.1.0'],
    ['user', c.User, '1000:1000'],
    ['working dir', c.Dir, '/home/node'],
    ['read-only root', c.ReadOnly, true],
    ['all capabilities dropped', c.CapabilityDrop, ['ALL']],
    ['no added capabilities', c.CapabilityAdd, undefined],
    ['init', c.Init, true],
    ['no core dumps', c.Ulimits, [{ Name: 'core', Soft: 0, Hard: 0 }]],
    ['limits', task.Resources, { Limits: { MemoryBytes: 512 * 1024 ** 2, NanoCPUs: 1.5e9, Pids: 128 } }],
    ['the egress overlay', task.Networks, [{ Target: 'warren-prod-egress-acme' }]],
    ['its DNS', c.DNSConfig, { Nameservers: ['10.0.9.2'] }],
    ['no tty, no stdin', [c.TTY, c.OpenStdin], [false, false]],
    ['stop grace', c.StopGracePeriod, 5e9],
    ['logs readable back', task.LogDriver, { Name: 'json-file' }],
    ['no privileges section (nothing to loosen)', c.Privileges, undefined],
  ])('%s', (_name, actual, expected) => {
    expect(actual).toEqual(expected);
  });

  it('mounts the same binds and a tmpfs /tmp, and no run socket', () => {
    expect(c.Mounts).toEqual([
      { Type: 'bind', Source: `${T}/acme/support/home`, Target: '/home/node', ReadOnly: false },
      { Type: 'bind', Source: '/opt/warren-dist', Target: '/opt/warren', ReadOnly: true },
      { Type: 'bind', Source: `${T}/acme/support/PERSONA.md`, Target: '/etc/warren/PERSONA.md', ReadOnly: true },
      { Type: 'bind', Source: '/srv/data', Target: '/data', ReadOnly: true },
      { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 128 * 1024 ** 2 } },
    ]);
  });

  it('hands the turn over as a secret file, referenced by id only', () => {
    expect(c.Secrets).toEqual([
      { SecretID: 'sec123', SecretName: 'warren-prod-acme.support-r1-turn', File: { Name: TURN_FILE, UID: '1000', GID: '1000', Mode: 0o400 } },
    ]);
    expect(c.Env).toEqual(['WARREN_TENANT=acme/support', `WARREN_TURN_FILE=${TURN_FILE}`]);
  });

  it('carries the entrypoint as Command and the rest as Args', () => {
    const s = swarmServiceSpec(created({ cmd: ['node', '-e', 'x'] }), FACTS);
    const t = s.TaskTemplate as Docker.ContainerTaskSpec;
    expect([t.ContainerSpec!.Command, t.ContainerSpec!.Args]).toEqual([['node'], ['-e', 'x']]);
  });

  it('places anywhere without constraints', () => {
    const s = swarmServiceSpec(created(), { ...FACTS, placement: [] });
    expect((s.TaskTemplate as Docker.ContainerTaskSpec).Placement).toEqual({ Constraints: [] });
  });
});

describe('swarmServiceSpec: whatever it cannot encode is refused, never dropped', () => {
  const withHost = (hc: Record<string, unknown>): Docker.ContainerCreateOptions => {
    const base = created();
    return { ...base, HostConfig: { ...base.HostConfig, ...hc } };
  };
  it.each<[string, Docker.ContainerCreateOptions, Partial<SwarmRunFacts>, RegExp]>([
    ['a run socket mount', created({ socketPath: '/srv/warren/data/run/r1.sock' }), {}, /run socket is a local path/],
    ['no-new-privileges missing', withHost({ SecurityOpt: [] }), {}, /no-new-privileges is required/],
    ['another security option', withHost({ SecurityOpt: ['no-new-privileges', 'seccomp=unconfined'] }), {}, /security option seccomp/],
    ['privileged', withHost({ Privileged: true }), {}, /privileged/],
    ['an added capability', withHost({ CapAdd: ['NET_ADMIN'] }), {}, /added capabilities NET_ADMIN/],
    ['capabilities kept', withHost({ CapDrop: ['NET_RAW'] }), {}, /CapDrop \["ALL"\]/],
    ['a writable root', withHost({ ReadonlyRootfs: false }), {}, /read-only/],
    ['swap beyond memory', withHost({ MemorySwap: -1 }), {}, /swap/],
    ['no pids limit', withHost({ PidsLimit: 0 }), {}, /pids limit/],
    ['no init', withHost({ Init: false }), {}, /init/],
    ['shared IPC', withHost({ IpcMode: 'host' }), {}, /IPC mode host/],
    ['an exec-able tmpfs', withHost({ Tmpfs: { '/tmp': 'rw,nosuid,nodev,size=16m' } }), {}, /without noexec/],
    ['an odd tmpfs option', withHost({ Tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=16m,uid=0' } }), {}, /uid=0/],
    ['no network (Swarm would put it on the default bridge)', created({ network: undefined }), {}, /Swarm runs need egress/],
    ['a run id Swarm cannot name', created({ runId: 'r.1' }), {}, /does not make a Swarm service name/],
    ['host networking', withHost({ NetworkMode: 'host' }), {}, /network mode host/],
    ['the default bridge', withHost({ NetworkMode: 'bridge' }), {}, /network mode bridge/],
    ['an option nobody encoded', withHost({ Devices: [{ PathOnHost: '/dev/kvm' }] }), {}, /HostConfig\.Devices is not encoded/],
    ['a top-level option nobody encoded', { ...created(), Hostname: 'x' } as Docker.ContainerCreateOptions, {}, /create option Hostname/],
    ['a tty', { ...created(), Tty: true }, {}, /Tty: true/],
    ['a bad placement', created(), { placement: ['node.label.gpu==true'] }, /is not a Swarm attribute/],
    ['no run label', { ...created(), Labels: { 'warren.instance': 'prod' } }, {}, /label warren\.tenant is missing/],
    ['a turn file chosen by the spec', created({ env: { WARREN_TURN_FILE: '/etc/passwd' } }), {}, /WARREN_TURN_FILE is set by the runtime/],
  ])('%s', (_name, options, facts, message) => {
    expect(() => swarmServiceSpec(options, { ...FACTS, ...facts })).toThrow(SwarmSpecError);
    expect(() => swarmServiceSpec(options, { ...FACTS, ...facts })).toThrow(message);
  });
});
