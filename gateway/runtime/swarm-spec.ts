// The Swarm service of one agent run, encoded from the Docker create options containerSpec() validated. Pure, so the
// whole encoding is checked by table tests. Every option of the spec is either encoded or refused with a reason:
// nothing of the local hardening is silently lost on the way to a cluster (docs/scale-out.md lists the mapping).
//
// What Swarm on Docker 20.10 (API 1.41) cannot say, and how the gap is closed:
//   SecurityOpt no-new-privileges -> no field (Privileges.NoNewPrivileges is API 1.46). Every node's dockerd runs
//     with `"no-new-privileges": true` (daemon.json), and the runner refuses a turn from a file when its
//     /proc/self/status does not say NoNewPrivs: 1 (images/agent/runner/turn-input.ts), so a node set up wrong fails
//     the run instead of running it with less.
//   MemorySwap = Memory -> no field; the memory limit is set, swap on a node adds to it. Nodes run without swap.
//   IpcMode private -> no field; it is the daemon default since 20.10 (`default-ipc-mode`), left at it.
//   Tmpfs noexec,nosuid,nodev -> a tmpfs mount, which Docker always mounts nosuid,nodev,noexec.
//   stdin -> the turn is a per-run docker secret, read from the file WARREN_TURN_FILE names.
//   NetworkMode none -> refused: Swarm has no "none" network, a task without one lands on the default bridge, and a
//     remote run must reach gated anyway; Swarm runs always join the tenant's internal egress overlay.
//   the run socket -> refused: a run on another node reaches gated over HTTPS (its endpoint is in the turn secret).
import type Docker from 'dockerode';
import { CONTAINER_PATHS, LABELS } from '../../core/container.js';
import { placementProblem } from '../../core/tree/persona.js';
import { AGENT_GID, AGENT_UID } from '../../core/container.js';

/** Where the run's turn secret appears in its container (the runner reads it; WARREN_TURN_FILE names it). */
export const TURN_FILE = '/run/secrets/warren-turn.json';
export const TURN_FILE_ENV = 'WARREN_TURN_FILE';

export interface SwarmRunFacts {
  /** PERSONA.md `placement:` of the tenant: every constraint must hold on the node. */
  placement: readonly string[];
  /** The docker secret created for this run, holding its turn input. */
  turnSecret: { id: string; name: string };
  /** Seconds between SIGTERM and SIGKILL when the run is stopped. */
  stopGraceS: number;
}

export class SwarmSpecError extends Error {}

/** Swarm's rule for service names: a DNS name component, at most 63 characters (so no dots). */
const SERVICE_NAME = /^[A-Za-z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

/**
 * The service of a run: named by its run id alone (unique across instances), since a container name carries dots
 * and is often longer than Swarm allows. Labels say whose it is.
 */
export function swarmServiceName(runId: string): string {
  const name = `warren-${runId}`;
  if (name.length > 63 || !SERVICE_NAME.test(name)) refuse(`run id ${JSON.stringify(runId)} does not make a Swarm service name`);
  return name;
}

function refuse(message: string): never {
  throw new SwarmSpecError(`cannot run on Swarm: ${message}`);
}

/** The create options containerSpec() sets that mean "talk over stdin": Swarm gets the turn as a file instead. */
const STDIN_OPTIONS = { AttachStdin: true, AttachStdout: true, AttachStderr: true, OpenStdin: true, StdinOnce: true, Tty: false } as const;
const TOP_LEVEL = new Set(['name', 'Image', 'User', 'WorkingDir', 'Env', 'Labels', 'Entrypoint', 'Cmd', 'HostConfig', ...Object.keys(STDIN_OPTIONS)]);
const HOST_CONFIG = new Set([
  'AutoRemove', 'ReadonlyRootfs', 'Tmpfs', 'CapDrop', 'CapAdd', 'SecurityOpt', 'Privileged', 'Memory', 'MemorySwap',
  'NanoCpus', 'PidsLimit', 'Init', 'IpcMode', 'Ulimits', 'NetworkMode', 'Dns', 'Mounts',
]);
const TMPFS_FLAGS = new Set(['rw', 'noexec', 'nosuid', 'nodev']);

/** `size=16m` and friends as bytes. */
function sizeBytes(value: string): number {
  const m = /^(\d+)([kmg]?)$/i.exec(value);
  if (!m) refuse(`tmpfs size ${JSON.stringify(value)} is not a size`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

function tmpfsMounts(tmpfs: Record<string, string> | undefined): Docker.MountSettings[] {
  return Object.entries(tmpfs ?? {}).map(([target, options]) => {
    let size: number | undefined;
    const flags = new Set<string>();
    for (const option of options.split(',')) {
      if (option.startsWith('size=')) size = sizeBytes(option.slice('size='.length));
      else if (TMPFS_FLAGS.has(option)) flags.add(option);
      else refuse(`tmpfs option ${JSON.stringify(option)} on ${target} has no Swarm equivalent`);
    }
    // Docker mounts every tmpfs mount nosuid,nodev,noexec; a spec that asked for less could not be honoured.
    for (const needed of ['noexec', 'nosuid', 'nodev']) if (!flags.has(needed)) refuse(`tmpfs ${target} without ${needed}`);
    if (size === undefined) refuse(`tmpfs ${target} has no size`);
    return { Type: 'tmpfs', Target: target, TmpfsOptions: { SizeBytes: size } } as Docker.MountSettings;
  });
}

function bindMounts(mounts: readonly Docker.MountSettings[] | undefined): Docker.MountSettings[] {
  return (mounts ?? []).map((m) => {
    if (m.Type !== 'bind') refuse(`mount type ${m.Type} of ${m.Target}`);
    if (m.Target === CONTAINER_PATHS.socket || m.Target.startsWith(`${CONTAINER_PATHS.socketDir}/`)) {
      refuse('a run socket is a local path; a Swarm run reaches gated over HTTPS');
    }
    const extra = Object.keys(m).filter((k) => !['Type', 'Source', 'Target', 'ReadOnly'].includes(k));
    if (extra.length > 0) refuse(`mount option ${extra.join(', ')} of ${m.Target}`);
    // The tenant tree (and so every home) is on a filesystem shared by all nodes at the same path (docs/scale-out.md).
    return { Type: 'bind', Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly === true };
  });
}

function networks(hostConfig: Docker.HostConfig): Docker.NetworkAttachmentConfig[] {
  const mode = hostConfig.NetworkMode ?? 'none';
  // Swarm has no "none" network, and a task without networks lands on the node's default bridge (the open
  // internet). A run on another node needs a network anyway, to reach gated: Swarm runs always get egress.
  if (mode === 'none') refuse('a run without a network cannot reach gated from another node; Swarm runs need egress (crackbox on every node)');
  if (['host', 'bridge', 'default'].includes(mode) || mode.startsWith('container:')) refuse(`network mode ${mode}`);
  // The tenant's egress overlay (crackbox on every node); internal, so the proxy is its only way out.
  return [{ Target: mode }];
}

/**
 * The service that runs one turn: a replicated job of one task that is never restarted (a failed turn is the turn
 * loop's to retry, once), placed by the tenant's constraints, with the local container's hardening.
 */
export function swarmServiceSpec(options: Docker.ContainerCreateOptions, facts: SwarmRunFacts): Docker.ServiceSpec {
  for (const key of Object.keys(options)) if (!TOP_LEVEL.has(key)) refuse(`create option ${key} is not encoded`);
  for (const [key, value] of Object.entries(STDIN_OPTIONS)) {
    const given = (options as Record<string, unknown>)[key];
    if (given !== undefined && given !== value) refuse(`${key}: ${String(given)}`);
  }
  const hc = options.HostConfig ?? {};
  for (const key of Object.keys(hc)) if (!HOST_CONFIG.has(key)) refuse(`HostConfig.${key} is not encoded`);
  const h = hc as Docker.HostConfig & { AutoRemove?: boolean; NanoCpus?: number };

  // The fixed hardening: refuse anything weaker (or different) than what containerSpec() sets.
  if (h.AutoRemove !== true) refuse('AutoRemove must be on (the service and its task are removed after the run)');
  if (h.ReadonlyRootfs !== true) refuse('the root filesystem must be read-only');
  if (h.Privileged === true) refuse('privileged containers');
  if ((h.CapAdd ?? []).length > 0) refuse(`added capabilities ${h.CapAdd!.join(', ')}`);
  if (JSON.stringify(h.CapDrop ?? []) !== '["ALL"]') refuse('capabilities must be dropped with CapDrop ["ALL"]');
  for (const opt of h.SecurityOpt ?? []) {
    // Enforced per node (daemon.json), checked by the runner: see the top of this file.
    if (opt !== 'no-new-privileges') refuse(`security option ${opt}`);
  }
  if ((h.SecurityOpt ?? []).length === 0) refuse('no-new-privileges is required');
  if (h.IpcMode !== undefined && h.IpcMode !== 'private') refuse(`IPC mode ${h.IpcMode}`);
  if (h.Memory === undefined || h.Memory <= 0) refuse('a memory limit is required');
  if (h.MemorySwap !== undefined && h.MemorySwap !== h.Memory) refuse('swap beyond the memory limit');
  if (h.NanoCpus === undefined || h.NanoCpus <= 0) refuse('a CPU limit is required');
  if (h.PidsLimit === undefined || h.PidsLimit === null || h.PidsLimit <= 0) refuse('a pids limit is required');
  if (h.Init !== true) refuse('an init process is required');

  for (const constraint of facts.placement) {
    // persona.ts validated them already; checked again here so a spec never carries one Swarm reads differently.
    const problem = placementProblem(constraint);
    if (problem) refuse(`placement ${JSON.stringify(constraint)}: ${problem}`);
  }

  const labels = options.Labels ?? {};
  for (const key of [LABELS.instance, LABELS.tenant, LABELS.run]) if (!labels[key]) refuse(`label ${key} is missing`);
  const env = options.Env ?? [];
  if (env.some((e) => e.startsWith(`${TURN_FILE_ENV}=`))) refuse(`${TURN_FILE_ENV} is set by the runtime`);

  const containerSpec: Docker.ContainerSpec = {
    Image: options.Image,
    Labels: { ...labels },
    ...(options.Entrypoint ? { Command: [...(options.Entrypoint as string[])] } : {}),
    ...(options.Cmd ? { Args: [...(options.Cmd as string[])] } : {}),
    Env: [...env, `${TURN_FILE_ENV}=${TURN_FILE}`],
    Dir: options.WorkingDir,
    User: options.User,
    Init: true,
    TTY: false,
    OpenStdin: false,
    ReadOnly: true,
    CapabilityDrop: ['ALL'],
    Ulimits: (h.Ulimits ?? []).map((u) => ({ Name: u.Name, Soft: u.Soft, Hard: u.Hard })),
    Mounts: [...bindMounts(h.Mounts), ...tmpfsMounts(h.Tmpfs as Record<string, string> | undefined)],
    StopGracePeriod: Math.round(facts.stopGraceS * 1e9),
    Secrets: [
      {
        SecretID: facts.turnSecret.id,
        SecretName: facts.turnSecret.name,
        File: { Name: TURN_FILE, UID: String(AGENT_UID), GID: String(AGENT_GID), Mode: 0o400 },
      },
    ],
    ...(h.Dns && h.Dns.length > 0 ? { DNSConfig: { Nameservers: [...h.Dns] } } : {}),
  };

  return {
    Name: swarmServiceName(labels[LABELS.run]!),
    Labels: { ...labels },
    Mode: { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } },
    TaskTemplate: {
      ContainerSpec: containerSpec,
      Resources: { Limits: { MemoryBytes: h.Memory, NanoCPUs: h.NanoCpus, Pids: h.PidsLimit } },
      // Never restarted by Swarm: a lost or failed turn is the turn loop's decision (re-queued once, see turn-plan.ts).
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: { Constraints: [...facts.placement] },
      Networks: networks(h),
      // `docker service logs` (the run's output) needs a log driver the daemon can read back.
      LogDriver: { Name: 'json-file' },
    },
  };
}
