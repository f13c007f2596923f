// The Docker create options of one agent run: every hardening flag, the exact mounts, the labels that let warren
// find its containers again. Pure (apart from an optional probe for PERSONA.md and skills/, see tenantFiles), so the
// whole spec is checked by table tests. docs/containers.md explains each choice.
import type Docker from 'dockerode';
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { AGENT_USER, CONTAINER_PATHS, LABELS } from '../core/container.js';
import { ROOT, segmentProblem, tenantId, tenantPathProblem, type TenantPath } from '../core/tenant-path.js';
import { SECRET_LIKE_NAME } from '../core/tree/environment.js';
import { HOME_DIR, PERSONA_FILE, SKILLS_DIR, WEB_DIR } from '../core/tree/layout.js';
import type { ResolvedLimits } from './limits.js';
import { DOCKER_SOCKETS, containerTargetProblem, type ResolvedMount } from './mount-allowlist.js';

export interface ContainerSpecInput {
  /** This warren installation (several may share one Docker daemon). */
  instance: string;
  tenant: TenantPath;
  runId: string;
  image: string;
  /** Absolute host path of the tenant's folder (tenants/<path>). */
  tenantDir: string;
  /** Absolute host path of the tenant's home: must be <tenantDir>/home. */
  homeDir: string;
  /** Absolute host path of the tenant's web/ (only for a tenant that publishes): must be <tenantDir>/web. */
  webDir?: string;
  /** Host path of this run's gated socket; absent when the run reaches gated over HTTPS (a cluster runtime). */
  socketPath?: string;
  /** Host dir with the compiled runner (holds runner/main.js); mounted read-only at /opt/warren. */
  runnerDir: string;
  limits: ResolvedLimits;
  extraMounts: ResolvedMount[];
  /** NON-secret environment only: secrets reach agents through gated tools, never through env. */
  env: Record<string, string>;
  /** An egress network (crackbox); without one the container has no network at all. */
  network?: { name: string; dns?: string[] };
  /** Replaces the image's entrypoint: the full argv, e.g. ['node', '-e', '...']. */
  cmd?: string[];
  /**
   * A worker (docs/coordinator.md#workers): the tenant's home, web/ and extra mounts are mounted read-only (only the
   * coordinator writes them), its own scratch folder writable (and its working directory), its brief read-only.
   * Both lie outside the tenant tree, so no tenant's files are ever a worker's to write.
   */
  worker?: { scratchDir: string; briefFile: string };
  /** Which optional tenant files exist. Omitted: probed on disk (the only I/O here). */
  tenantFiles?: { persona: boolean; skills: boolean };
}

/** Ids that end up in container names and labels. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TMP_OPTIONS = 'rw,noexec,nosuid,nodev';

export class ContainerSpecError extends Error {}

function fail(message: string): never {
  throw new ContainerSpecError(message);
}

function inside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function requireCanonical(what: string, path: string): void {
  if (typeof path !== 'string' || !isAbsolute(path) || normalize(path) !== path || (path.length > 1 && path.endsWith(sep))) {
    fail(`${what} must be an absolute, normalised path: ${JSON.stringify(path)}`);
  }
}

/**
 * The tenant that owns a host path inside the tenant tree: the longest run of leading folder names that are tenant
 * names. "acme/home/x" belongs to acme, "acme/support/skills" to acme/support. Null for the tree itself.
 */
export function ownerInTree(tenantsRoot: string, path: string): TenantPath | null {
  const rel = relative(tenantsRoot, path);
  if (rel === '') return null;
  const parts = rel.split(sep);
  const owned: string[] = [];
  for (const part of parts) {
    if (segmentProblem(part) !== null) break;
    if (owned[0] === ROOT) break; // root has no child tenants
    owned.push(part);
  }
  return owned.length > 0 ? owned.join('/') : null;
}

/** Which optional tenant files exist (the I/O half of the persona/skills mounts). */
export function probeTenantFiles(tenantDir: string): { persona: boolean; skills: boolean } {
  return { persona: existsSync(join(tenantDir, PERSONA_FILE)), skills: existsSync(join(tenantDir, SKILLS_DIR)) };
}

export function containerName(instance: string, tenant: TenantPath, runId: string): string {
  return `warren-${instance}-${tenantId(tenant)}-${runId}`;
}

export function containerSpec(input: ContainerSpecInput): Docker.ContainerCreateOptions {
  const { instance, tenant, runId, limits } = input;
  if (!ID.test(instance)) fail(`instance ${JSON.stringify(instance)} must match ${ID}`);
  if (!ID.test(runId)) fail(`run id ${JSON.stringify(runId)} must match ${ID}`);
  const tenantProblem = tenantPathProblem(tenant);
  if (tenantProblem) fail(`tenant ${JSON.stringify(tenant)}: ${tenantProblem}`);
  if (typeof input.image !== 'string' || input.image.length === 0) fail('image is empty');

  for (const [what, p] of [
    ['tenantDir', input.tenantDir],
    ['homeDir', input.homeDir],
    ...(input.socketPath !== undefined ? [['socketPath', input.socketPath] as const] : []),
    ['runnerDir', input.runnerDir],
  ] as const) {
    requireCanonical(what, p);
  }
  // The tenant folder is <tenants root>/<tenant path>: that is how we know where the other tenants live.
  const suffix = sep + tenant.split('/').join(sep);
  if (!input.tenantDir.endsWith(suffix)) fail(`tenantDir ${input.tenantDir} is not the folder of tenant ${tenant}`);
  const tenantsRoot = input.tenantDir.slice(0, -suffix.length) || sep;
  if (input.homeDir !== join(input.tenantDir, HOME_DIR)) fail(`homeDir ${input.homeDir} is not ${tenant}'s own home`);
  if (input.webDir !== undefined && input.webDir !== join(input.tenantDir, WEB_DIR)) {
    fail(`webDir ${input.webDir} is not ${tenant}'s own web folder`);
  }

  const worker = input.worker;
  if (worker) {
    requireCanonical('worker scratchDir', worker.scratchDir);
    requireCanonical('worker briefFile', worker.briefFile);
    for (const [what, p] of [['scratchDir', worker.scratchDir], ['briefFile', worker.briefFile]] as const) {
      if (inside(p, tenantsRoot) || inside(tenantsRoot, p)) fail(`worker ${what} ${p} must lie outside the tenant tree`);
    }
    if (inside(worker.briefFile, worker.scratchDir)) fail(`worker briefFile ${worker.briefFile} must not lie in its scratch folder`);
  }
  // A worker writes nothing of the tenant's: only its scratch folder.
  const tenantWritable = !worker;

  const files = input.tenantFiles ?? probeTenantFiles(input.tenantDir);
  const mounts: Docker.MountSettings[] = [
    { Type: 'bind', Source: input.homeDir, Target: CONTAINER_PATHS.home, ReadOnly: !tenantWritable },
    ...(input.socketPath !== undefined ? [{ Type: 'bind' as const, Source: input.socketPath, Target: CONTAINER_PATHS.socket, ReadOnly: false }] : []),
    { Type: 'bind', Source: input.runnerDir, Target: CONTAINER_PATHS.runnerDir, ReadOnly: true },
  ];
  if (input.webDir !== undefined) mounts.push({ Type: 'bind', Source: input.webDir, Target: CONTAINER_PATHS.web, ReadOnly: !tenantWritable });
  if (worker) {
    mounts.push({ Type: 'bind', Source: worker.scratchDir, Target: CONTAINER_PATHS.scratch, ReadOnly: false });
    mounts.push({ Type: 'bind', Source: worker.briefFile, Target: CONTAINER_PATHS.brief, ReadOnly: true });
  }
  if (files.persona) mounts.push({ Type: 'bind', Source: join(input.tenantDir, PERSONA_FILE), Target: CONTAINER_PATHS.persona, ReadOnly: true });
  if (files.skills) {
    const skills = join(input.tenantDir, SKILLS_DIR);
    mounts.push({ Type: 'bind', Source: skills, Target: CONTAINER_PATHS.skills, ReadOnly: true });
    mounts.push({ Type: 'bind', Source: skills, Target: CONTAINER_PATHS.claudeSkills, ReadOnly: true });
  }

  const targets = new Set(mounts.map((m) => m.Target));
  for (const extra of input.extraMounts) {
    requireCanonical('extra mount source', extra.source);
    const problem = containerTargetProblem(extra.target);
    if (problem) fail(problem);
    if (targets.has(extra.target)) fail(`extra mount target ${extra.target} is already used`);
    targets.add(extra.target);
    mounts.push({ Type: 'bind', Source: extra.source, Target: extra.target, ReadOnly: extra.readonly || !tenantWritable });
  }

  for (const m of mounts) {
    const source = m.Source!;
    // Nothing that holds or is a Docker socket: that would be root on the host.
    for (const sock of DOCKER_SOCKETS) if (inside(sock, source)) fail(`mount source ${source} exposes ${sock}`);
    if (source.endsWith(`${sep}docker.sock`)) fail(`mount source ${source} looks like a Docker socket`);
    // Inside the tenant tree a source must belong to this tenant, and never be a folder that holds tenants.
    if (inside(tenantsRoot, source)) fail(`mount source ${source} holds the whole tenant tree`);
    if (inside(source, tenantsRoot)) {
      const owner = ownerInTree(tenantsRoot, source);
      if (owner !== tenant) fail(`mount source ${source} lies in ${owner ?? 'the tenant tree'}, not in ${tenant}`);
      if (source === input.tenantDir) fail(`mount source ${source} is the tenant folder itself (it holds its children)`);
    }
  }

  const env = Object.entries(input.env).map(([k, v]) => {
    if (!ENV_NAME.test(k)) fail(`env name ${JSON.stringify(k)} is not a valid variable name`);
    // Env is visible to every process in the container and in `docker inspect`.
    if (SECRET_LIKE_NAME.test(k)) fail(`env ${k} looks like a secret; secrets reach agents through gated, never env`);
    if (typeof v !== 'string' || v.includes('\0')) fail(`env ${k} must be a string without NUL`);
    return `${k}=${v}`;
  });

  const memory = Math.round(limits.memory_mb * 1024 * 1024);
  // /tmp is RAM and counts against the memory limit: a quarter of it, at least 16 MiB.
  const tmpMb = Math.max(16, Math.floor(limits.memory_mb / 4));

  const options: Docker.ContainerCreateOptions = {
    name: containerName(instance, tenant, runId),
    Image: input.image,
    User: AGENT_USER,
    WorkingDir: worker ? CONTAINER_PATHS.scratch : CONTAINER_PATHS.home,
    Env: env,
    Labels: { [LABELS.instance]: instance, [LABELS.tenant]: tenant, [LABELS.run]: runId },
    // The turn arrives on stdin; StdinOnce closes the container's stdin when ours ends.
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: true,
    Tty: false,
    HostConfig: {
      AutoRemove: true,
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `${TMP_OPTIONS},size=${tmpMb}m` },
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round(limits.cpus * 1e9),
      PidsLimit: limits.pids,
      // tini as PID 1: reaps the agent's subprocesses and passes SIGTERM on, so `docker stop` can be graceful.
      Init: true,
      IpcMode: 'private',
      // No core dumps: they would write the agent's memory (tokens in flight) into its home.
      Ulimits: [{ Name: 'core', Soft: 0, Hard: 0 }],
      NetworkMode: input.network?.name ?? 'none',
      ...(input.network?.dns ? { Dns: input.network.dns } : {}),
      Mounts: mounts,
    },
  };
  if (input.cmd) {
    if (input.cmd.length === 0) fail('cmd is empty');
    options.Entrypoint = input.cmd.slice(0, 1);
    options.Cmd = input.cmd.slice(1);
  }
  return options;
}

/**
 * Every bind source must exist and be its own realpath. Docker resolves symlinks on the host when it binds, so a
 * symlinked home or skills folder could point into another tenant; refusing non-canonical sources closes that.
 */
export function assertCanonicalMountSources(options: Docker.ContainerCreateOptions): void {
  for (const m of options.HostConfig?.Mounts ?? []) {
    if (m.Type !== 'bind' || !m.Source) continue;
    let real: string;
    try {
      real = realpathSync(m.Source);
    } catch {
      fail(`mount source ${m.Source} does not exist`);
    }
    if (real !== m.Source) fail(`mount source ${m.Source} is reached through a symlink (it is really ${real})`);
  }
  if ((options.HostConfig?.Binds ?? []).length > 0) fail('Binds are not used by warren; mounts must be in Mounts');
}
