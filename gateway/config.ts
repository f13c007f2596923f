// The gateway's settings: embedded defaults, overridable by environment variables. One place, so an operator can
// read every knob in docs/gateway.md and in this file.
import { isAbsolute, join } from 'node:path';
import { instanceName } from '../core/instance.js';
import { packageRoot } from '../images/build.js';
import { DEFAULT_LIMITS, DEFAULT_MAXIMA, type ResolvedLimits } from './limits.js';

export type RuntimeKind = 'docker' | 'swarm';

export interface GatewayConfig {
  /** Names this installation on a shared Docker daemon; containers are labelled with it. */
  instance: string;
  /** What runs agent containers (WARREN_RUNTIME): the local daemon, or a Docker Swarm this host manages. */
  runtime: RuntimeKind;
  maxConcurrentContainers: number;
  /** Workers one tenant may have running at once (docs/coordinator.md#workers); the rest wait, queued. */
  maxWorkersPerTenant: number;
  image: string | null;
  /** Host folder mounted read-only at /opt/warren (holds runner/main.js). */
  runnerDir: string;
  /**
   * Where workers' scratch folders and briefs live (WARREN_WORKERS_DIR, absolute); null: DATA/workers. With
   * WARREN_RUNTIME=swarm a worker may run on any node, so this must be set to a folder of the shared filesystem.
   */
  workersDir: string | null;
  defaultHarness: 'script' | 'claude-code' | 'openai';
  defaultLimits: ResolvedLimits;
  maxLimits: ResolvedLimits;
  /** How often the queue is looked at even without a wake-up (messages written by other processes). */
  pollMs: number;
  /** How long messages wait for a tenant that vanished from the tree (renamed and back?) before they are failed. */
  goneGraceMs: number;
  /** How long a coordinator (PERSONA.md `always_on: true`) idles before it stops, unless its `idle_timeout` says. */
  idleTimeoutS: number;
  http: { host: string; port: number };
  /** The web listener (docs/web.md): its own port, so published sites never share the API's origin. */
  web: { host: string; port: number; quotaBytes: number };
  // Egress (WARREN_EGRESS*) is crackbox's to read (crackbox/egress-config.ts); cli/start-warren.ts hands the
  // gateway the started service.
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, got "${raw}"`);
  return n;
}

function workersDir(env: NodeJS.ProcessEnv): string | null {
  const raw = env.WARREN_WORKERS_DIR?.trim();
  if (!raw) return null;
  if (!isAbsolute(raw)) throw new Error(`WARREN_WORKERS_DIR must be an absolute path, got "${raw}"`);
  return raw;
}

export function gatewayConfig(dataDir: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const harness = env.WARREN_DEFAULT_HARNESS ?? 'script';
  if (harness !== 'script' && harness !== 'claude-code' && harness !== 'openai') {
    throw new Error(`WARREN_DEFAULT_HARNESS must be "script", "claude-code" or "openai", got "${harness}"`);
  }
  const runtime = env.WARREN_RUNTIME === undefined || env.WARREN_RUNTIME === '' ? 'docker' : env.WARREN_RUNTIME;
  if (runtime !== 'docker' && runtime !== 'swarm') {
    // Never a silent default: an operator who asked for a cluster must not get turns run on this host unannounced.
    throw new Error(`WARREN_RUNTIME must be "docker" or "swarm", got "${runtime}"`);
  }
  return {
    instance: instanceName(dataDir, env),
    runtime,
    maxConcurrentContainers: int(env, 'MAX_CONCURRENT_CONTAINERS', 4, 1),
    maxWorkersPerTenant: int(env, 'WARREN_MAX_WORKERS_PER_TENANT', 3, 1),
    image: env.WARREN_AGENT_IMAGE ?? null,
    runnerDir: env.WARREN_RUNNER_DIR ?? join(packageRoot(), 'dist', 'agent'),
    workersDir: workersDir(env),
    defaultHarness: harness,
    defaultLimits: {
      ...DEFAULT_LIMITS,
      memory_mb: int(env, 'WARREN_MEMORY_MB', DEFAULT_LIMITS.memory_mb, 1),
      timeout_s: int(env, 'WARREN_TIMEOUT_S', DEFAULT_LIMITS.timeout_s, 1),
    },
    maxLimits: {
      ...DEFAULT_MAXIMA,
      memory_mb: int(env, 'WARREN_MAX_MEMORY_MB', DEFAULT_MAXIMA.memory_mb, 1),
      timeout_s: int(env, 'WARREN_MAX_TIMEOUT_S', DEFAULT_MAXIMA.timeout_s, 1),
    },
    pollMs: int(env, 'WARREN_POLL_MS', 250, 10),
    goneGraceMs: int(env, 'WARREN_GONE_GRACE_MS', 30_000, 0),
    idleTimeoutS: int(env, 'WARREN_IDLE_TIMEOUT_S', 300, 1),
    http: { host: env.WARREN_HTTP_HOST ?? '127.0.0.1', port: int(env, 'WARREN_HTTP_PORT', 7380, 0) },
    web: {
      host: env.WARREN_WEB_HOST ?? '127.0.0.1',
      port: int(env, 'WARREN_WEB_PORT', 7381, 0),
      quotaBytes: int(env, 'WARREN_WEB_QUOTA_MB', 100, 1) * 1024 * 1024,
    },
  };
}
