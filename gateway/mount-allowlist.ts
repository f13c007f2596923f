// Extra host folders an agent may see (PERSONA.md `mounts:`), allowed only under roots the operator listed in the
// mount allowlist, a file kept outside tenants/ so no agent can ever read or edit it. Everything here fails closed:
// a missing or broken allowlist means no extra mounts, and any doubt about a request means that request is denied.
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, posix } from 'node:path';
import type { ConfigError } from '../core/config-error.js';
import { CONTAINER_PATHS } from '../core/container.js';

export type AllowMode = 'ro' | 'rw';

export interface AllowedRoot {
  mode: AllowMode;
  /** Canonical (realpath'd) absolute path. */
  path: string;
  line: number;
}

/** One entry of PERSONA.md `mounts:`. `readonly` defaults to true: read-write must be asked for. */
export interface MountRequest {
  host: string;
  container: string;
  readonly?: boolean;
}

export interface ResolvedMount {
  /** Canonical host path (symlinks resolved), what Docker will bind. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readonly: boolean;
}

export type MountDecision = { ok: true; mount: ResolvedMount } | { ok: false; reason: string };

export interface MountPolicy {
  roots: AllowedRoot[];
  /** Canonical paths never mounted, nor any folder holding them (tenant tree, data dir, Docker socket, this file). */
  forbidden: string[];
}

/** Targets the container spec owns: an extra mount may not sit on, under or over these. */
export const FIXED_TARGETS = [CONTAINER_PATHS.web, CONTAINER_PATHS.socketDir, CONTAINER_PATHS.runnerDir, CONTAINER_PATHS.configDir, '/tmp', '/proc', '/sys', '/dev'];
export const MAX_EXTRA_MOUNTS = 16;

/** Path parts that mark credentials; a request whose path (as written or resolved) has one is denied. */
const BLOCKED_PARTS = new Set([
  '.ssh', '.aws', '.gnupg', '.gpg', '.docker', '.kube', '.netrc', '.npmrc', '.pypirc', '.git-credentials',
  '.password-store', '.azure', 'gcloud', '.vault-token', 'credentials', 'credentials.json', 'secrets',
  'id_rsa', 'id_dsa', 'id_ecdsa', 'id_ed25519', 'authorized_keys', 'known_hosts', 'docker.sock', 'shadow',
]);

/** The blocked part of a path, or null. Also matches `.env`, `.env.local` and friends. */
export function blockedPart(path: string): string | null {
  for (const part of path.split('/')) {
    const p = part.toLowerCase();
    if (BLOCKED_PARTS.has(p) || p === '.env' || p.startsWith('.env.')) return part;
  }
  return null;
}

function within(path: string, root: string): boolean {
  return path === root || root === '/' || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/** Why `target` cannot be an extra mount's container path, or null. */
export function containerTargetProblem(target: string): string | null {
  if (typeof target !== 'string' || target.length === 0) return 'container path is empty';
  if (!target.startsWith('/')) return `container path "${target}" is not absolute`;
  if (target.includes(':')) return `container path "${target}" contains ":"`;
  if (target.split('/').includes('..')) return `container path "${target}" contains ".."`;
  if (!/^[A-Za-z0-9._@+/-]+$/.test(target)) return `container path "${target}" has characters outside [A-Za-z0-9._@+/-]`;
  if (posix.normalize(target) !== target || (target.length > 1 && target.endsWith('/'))) {
    return `container path "${target}" is not normalised (write ${posix.normalize(target).replace(/(.)\/$/, '$1')})`;
  }
  if (target === '/') return 'container path "/" would replace the whole filesystem';
  for (const fixed of FIXED_TARGETS) {
    if (within(target, fixed) || within(fixed, target)) return `container path "${target}" overlaps the fixed mount ${fixed}`;
  }
  // The home is a fixed mount too, but folders inside it are fine (they simply shadow part of the home).
  if (within(CONTAINER_PATHS.home, target)) return `container path "${target}" would cover the home ${CONTAINER_PATHS.home}`;
  return null;
}

/** Checks the shape of one untrusted `mounts:` entry. */
export function parseMountRequest(raw: unknown): { ok: true; request: MountRequest } | { ok: false; reason: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'mount must be a mapping {host, container, readonly?}' };
  const r = raw as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => !['host', 'container', 'readonly'].includes(k));
  if (extra.length > 0) return { ok: false, reason: `unknown mount key "${extra[0]}"` };
  if (typeof r.host !== 'string' || !isAbsolute(r.host)) return { ok: false, reason: 'mount host must be an absolute path' };
  if (r.host.includes('\0')) return { ok: false, reason: 'mount host contains a NUL byte' };
  if (typeof r.container !== 'string') return { ok: false, reason: 'mount container must be a path' };
  if (r.readonly !== undefined && typeof r.readonly !== 'boolean') return { ok: false, reason: 'mount readonly must be true or false' };
  return { ok: true, request: { host: r.host, container: r.container, readonly: r.readonly as boolean | undefined } };
}

/**
 * The decision for one request. `realHost` is the request's host path with every symlink resolved (null when it does
 * not exist). Pure: all file system facts come in as arguments.
 */
export function decideMount(request: MountRequest, realHost: string | null, policy: MountPolicy): MountDecision {
  const deny = (reason: string): MountDecision => ({ ok: false, reason: `${request.host} -> ${request.container}: ${reason}` });
  const targetProblem = containerTargetProblem(request.container);
  if (targetProblem) return deny(targetProblem);
  const writtenBlock = blockedPart(request.host);
  if (writtenBlock) return deny(`"${writtenBlock}" looks like credentials and is never mounted`);
  if (realHost === null) return deny('host path does not exist');
  const realBlock = blockedPart(realHost);
  if (realBlock) return deny(`resolves to ${realHost}, and "${realBlock}" looks like credentials`);
  for (const f of policy.forbidden) {
    if (within(realHost, f) || within(f, realHost)) return deny(`resolves to ${realHost}, which is or holds ${f}`);
  }
  // The most specific allowed root decides (an `rw /srv/shared` inside an `ro /srv` makes only that part writable).
  const root = policy.roots
    .filter((r) => within(realHost, r.path))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!root) return deny(`resolves to ${realHost}, which is under no root of the mount allowlist`);
  const readonly = request.readonly !== false;
  if (!readonly && root.mode !== 'rw') return deny(`read-write asked, but ${root.path} is allowed read-only (allowlist line ${root.line})`);
  return { ok: true, mount: { source: realHost, target: request.container, readonly } };
}

/** Parses the allowlist text. Any bad line makes the whole file unusable (no roots): a typo never widens access. */
export function parseAllowlist(
  text: string,
  file: string,
  realpath: (p: string) => string | null,
): { roots: AllowedRoot[]; errors: ConfigError[] } {
  const roots: AllowedRoot[] = [];
  const errors: ConfigError[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/#.*$/, '').trim();
    if (content === '') return;
    const m = /^(ro|rw)\s+(\S+)$/.exec(content);
    if (!m) return void errors.push({ file, line, message: `expected "ro /path" or "rw /path", got "${content}"` });
    const [, mode, path] = m as unknown as [string, AllowMode, string];
    if (!isAbsolute(path)) return void errors.push({ file, line, message: `"${path}" is not an absolute path` });
    const blocked = blockedPart(path);
    if (blocked) return void errors.push({ file, line, message: `"${path}" contains "${blocked}", which is never mounted` });
    const real = realpath(path);
    if (real === null) return void errors.push({ file, line, message: `"${path}" does not exist` });
    if (real === '/') return void errors.push({ file, line, message: `"${path}" is the whole file system` });
    roots.push({ mode, path: real, line });
  });
  return errors.length > 0 ? { roots: [], errors } : { roots, errors };
}

export function defaultAllowlistPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.WARREN_MOUNT_ALLOWLIST ?? join(homedir(), '.config', 'warren', 'mount-allowlist');
}

export function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

/** Reads the allowlist. Missing, unreadable, writable by others, or broken: no roots, with the reason. */
export function loadAllowlist(file: string): { roots: AllowedRoot[]; errors: ConfigError[] } {
  const none = (line: number, message: string) => ({ roots: [], errors: [{ file, line, message }] });
  let text: string;
  try {
    const st = lstatSync(file);
    if (!st.isFile()) return none(0, 'not a regular file (symlinks are not followed); no extra mounts allowed');
    // Whoever can write this file decides what agents see: only its owner (root or the operator running warren).
    if ((st.mode & 0o022) !== 0) return none(0, 'writable by group or others; no extra mounts allowed until fixed (chmod go-w)');
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid && st.uid !== 0) return none(0, `owned by uid ${st.uid}, not by root or uid ${uid}; no extra mounts allowed`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return none(0, code === 'ENOENT' ? 'missing; no extra mounts allowed' : `unreadable (${code ?? (error as Error).message})`);
  }
  return parseAllowlist(text, file, realpathOrNull);
}

export interface ResolveMountsOptions {
  /** The allowlist file (default: defaultAllowlistPath()). */
  allowlistFile?: string;
  /** Paths never mounted, nor anything holding them: pass the tenant tree and the data dir. */
  forbidden: string[];
}

export interface ResolveMountsResult {
  mounts: ResolvedMount[];
  denied: string[];
  errors: ConfigError[];
}

/** Docker sockets are never mounted, whatever the operator allowed. */
export const DOCKER_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock'];

/** Resolves a tenant's `mounts:` against the allowlist (I/O wrapper around decideMount). */
export function resolveMounts(requests: unknown, opts: ResolveMountsOptions): ResolveMountsResult {
  const result: ResolveMountsResult = { mounts: [], denied: [], errors: [] };
  if (requests === undefined || requests === null) return result;
  if (!Array.isArray(requests)) {
    result.denied.push('mounts must be a list');
    return result;
  }
  if (requests.length === 0) return result;
  const file = opts.allowlistFile ?? defaultAllowlistPath();
  const forbidden = [...opts.forbidden, ...DOCKER_SOCKETS, file]
    .map((p) => realpathOrNull(p) ?? p)
    .filter((p, i, all) => all.indexOf(p) === i);
  const realFile = realpathOrNull(file) ?? file;
  const exposed = opts.forbidden.map((p) => realpathOrNull(p) ?? p).find((f) => within(realFile, f));
  // An allowlist inside the tenant tree could be read or edited by an agent: it is not trusted at all.
  const { roots, errors } = exposed
    ? { roots: [], errors: [{ file, line: 0, message: `inside ${exposed}, where agents live; no extra mounts allowed` }] }
    : loadAllowlist(file);
  result.errors.push(...errors);
  const policy: MountPolicy = { roots, forbidden };
  const targets = new Set<string>();
  for (const raw of requests) {
    const parsed = parseMountRequest(raw);
    if (!parsed.ok) {
      result.denied.push(parsed.reason);
      continue;
    }
    if (result.mounts.length >= MAX_EXTRA_MOUNTS) {
      result.denied.push(`${parsed.request.host}: more than ${MAX_EXTRA_MOUNTS} extra mounts`);
      continue;
    }
    const decision = decideMount(parsed.request, realpathOrNull(parsed.request.host), policy);
    if (!decision.ok) {
      result.denied.push(decision.reason);
    } else if (targets.has(decision.mount.target)) {
      result.denied.push(`${parsed.request.host} -> ${decision.mount.target}: container path already used`);
    } else if ([...targets].some((t) => within(t, decision.mount.target) || within(decision.mount.target, t))) {
      result.denied.push(`${parsed.request.host} -> ${decision.mount.target}: nested inside another extra mount`);
    } else {
      targets.add(decision.mount.target);
      result.mounts.push(decision.mount);
    }
  }
  return result;
}
