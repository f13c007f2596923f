// gated's operator control socket (DATA/control/gated.sock): how `warren tenants` and `warren grants explain` see what
// the running gated enforces rather than what a fresh read of the files would say. Only the operator's uid can
// connect (a 0700 directory, a 0600 socket); requests are newline-delimited JSON, size-capped and strictly validated;
// nothing here changes any state.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { z } from 'zod';
import { formatConfigError } from '../core/config-error.js';
import { explainDecision } from '../core/grants/explain.js';
import type { Logger } from '../core/log.js';
import { InvalidTenantPathError, parseTenantPath, tierOf, type TenantPath } from '../core/tenant-path.js';
import type { TenantRegistry } from '../core/tree/registry.js';
import { decideCall, type DecisionEnv } from './call.js';
import { TOOLS_BY_NAME } from './tools/index.js';
import { ensurePrivateSocketDirs, MAX_SOCKET_PATH_BYTES } from './socket-paths.js';

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, 'control', 'gated.sock');
}

/** A request line longer than this is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 64 * 1024;
const MAX_CONNECTIONS = 8;
const IDLE_TIMEOUT_MS = 30_000;

export const ControlRequest = z.discriminatedUnion('request', [
  z.object({ request: z.literal('tenants') }).strict(),
  z
    .object({
      request: z.literal('explain'),
      tenant: z.string().min(1).max(1024),
      tool: z.string().min(1).max(200),
      args: z.record(z.string(), z.unknown()),
    })
    .strict(),
]);
export type ControlRequest = z.infer<typeof ControlRequest>;

export type TenantStatus = 'ok' | 'last good' | 'invalid' | 'blocked';

export interface TenantRow {
  tenant: TenantPath;
  tier: number;
  /**
   * ok; "last good" (its files are broken now, its last valid configuration applies and `errors` are ignored);
   * invalid (never valid: no socket); blocked (an ancestor has no valid configuration: every call is refused).
   */
  status: TenantStatus;
  /** Its live socket, or null (no running gated, or no socket). */
  socket: string | null;
  errors: string[];
  /** Why every call is refused (status blocked), or null. */
  closedBecause: string | null;
}

export interface TenantsReport {
  /** The tenant tree this answer describes. */
  tenantsDir: string;
  tenants: TenantRow[];
  /** Every configuration error, tree-level ones included, with file:line. */
  errors: string[];
}

/** The tenants as a registry and its policies see them. Pure over its inputs; the server and the CLI's fallback share it. */
export function describeTenants(
  registry: TenantRegistry,
  closedBecauseOf: (tenant: TenantPath) => string | null,
  sockets: ReadonlyMap<TenantPath, string>,
): TenantsReport {
  const tenants = registry.list().map((s): TenantRow => {
    const closedBecause = s.config ? closedBecauseOf(s.path) : null;
    const status: TenantStatus = s.config === null ? 'invalid' : closedBecause ? 'blocked' : s.errors.length ? 'last good' : 'ok';
    return {
      tenant: s.path,
      tier: tierOf(s.path),
      status,
      socket: sockets.get(s.path) ?? null,
      errors: s.errors.map(formatConfigError),
      closedBecause,
    };
  });
  return { tenantsDir: registry.tenantsDir, tenants, errors: registry.errors().map(formatConfigError) };
}

export interface CallExplanation {
  /** The tenant tree the decision was made on. */
  tenantsDir: string;
  tenant: TenantPath;
  tier: number;
  tool: string;
  /** Whether the tenant is in the tree at all. */
  known: boolean;
  allowed: boolean;
  /** The stage that refused the call, or null when it is allowed. */
  refusedAt: string | null;
  /** The refusal the agent would read, or the reason the call is allowed. */
  message: string;
  /** The deciding rule with its source, `structural guard of <tool>`, or null. */
  rule: string | null;
  /** The tenant's current configuration errors (ignored while a last good configuration applies). */
  errors: string[];
  /** The grant rules for this tool and whether each holds for the arguments as given; null without rules. */
  rules: { listed: boolean; applied: { description: string; holds: boolean }[] } | null;
}

/** What a call would get, by the same decision a real call runs (everything but the handler and the audit row). */
export function explainCall(env: DecisionEnv, registry: TenantRegistry, tool: string, args: Record<string, unknown>): CallExplanation {
  const { tenant, store } = env.context;
  const state = registry.get(tenant);
  const call = decideCall(env, tool, args);
  const policy = env.policy;
  let rules: CallExplanation['rules'] = null;
  if (policy && !policy.closedBecause && TOOLS_BY_NAME.has(tool)) {
    const x = explainDecision(policy.compiled, tool, args, { isRoutedChat: (chat) => store.isRoutedTo(chat, tenant) });
    rules = { listed: x.listed, applied: x.applied.map(({ description, holds }) => ({ description, holds })) };
  }
  return {
    tenantsDir: registry.tenantsDir,
    tenant,
    tier: tierOf(tenant),
    tool,
    known: state !== undefined,
    allowed: call.allowed,
    refusedAt: call.allowed ? null : call.stage,
    message: call.allowed ? call.reason : call.message,
    rule: call.rule,
    errors: (state?.errors ?? []).map(formatConfigError),
    rules,
  };
}

export interface ControlDeps {
  registry: TenantRegistry;
  /** Why every call of the tenant is refused (closedBecauseOf in policy.ts): no policy is compiled to list tenants. */
  closedBecauseOf(tenant: TenantPath): string | null;
  sockets(): ReadonlyMap<TenantPath, string>;
  /** The environment a call on the tenant's own socket gets. */
  envOf(tenant: TenantPath): DecisionEnv;
  log: Logger;
}

type ControlAnswer = { ok: true; answer: TenantsReport | CallExplanation } | { ok: false; error: string };

export class ControlServer {
  private readonly server: NetServer;
  private readonly connections = new Set<Socket>();

  private constructor(
    readonly socketPath: string,
    private readonly deps: ControlDeps,
  ) {
    this.server = createServer((socket) => this.accept(socket));
    this.server.on('error', (error) => deps.log.error({ err: error }, 'control socket error'));
  }

  /** Starts the server; a failure is logged and gated runs on without it (the CLI then reads the files, and says so). */
  static async start(socketPath: string, deps: ControlDeps): Promise<ControlServer | null> {
    const control = new ControlServer(socketPath, deps);
    try {
      await control.listen();
      return control;
    } catch (error) {
      deps.log.error({ err: error, socket: socketPath }, 'could not open the control socket');
      await control.close();
      return null;
    }
  }

  private async listen(): Promise<void> {
    const bytes = Buffer.byteLength(this.socketPath, 'utf8');
    if (bytes > MAX_SOCKET_PATH_BYTES) {
      // The kernel would bind a truncated path: refuse rather than serve somewhere no client looks.
      throw new Error(`the control socket path is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte limit; use a shorter --data`);
    }
    const dir = dirname(this.socketPath);
    // The directory is what keeps other users out from the first instant (a socket's mode is set only after bind),
    // so it must be a real one of this user's: in a folder another user owns, they could swap the socket.
    ensurePrivateSocketDirs([dir], 0o700);
    chmodSync(dir, 0o700);
    removeStaleSocket(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    chmodSync(this.socketPath, 0o600);
  }

  private accept(socket: Socket): void {
    socket.on('error', () => undefined);
    if (this.connections.size >= MAX_CONNECTIONS) {
      socket.end(line({ ok: false, error: `too many connections (limit ${MAX_CONNECTIONS})` }));
      return;
    }
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    const decoder = new StringDecoder('utf8');
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += decoder.write(chunk);
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        const request = pending.slice(0, i);
        pending = pending.slice(i + 1);
        if (Buffer.byteLength(request) > MAX_REQUEST_BYTES) return tooLong();
        socket.write(line(this.answer(request)));
      }
      if (Buffer.byteLength(pending) > MAX_REQUEST_BYTES) tooLong();
    });
    const tooLong = () => {
      socket.removeAllListeners('data');
      socket.end(line({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` }));
    };
  }

  private answer(text: string): ControlAnswer {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false, error: 'a request is one line of JSON' };
    }
    const parsed = ControlRequest.safeParse(json);
    if (!parsed.success) return { ok: false, error: `bad request: ${parsed.error.issues.map((i) => i.message).join('; ')}` };
    const request = parsed.data;
    try {
      const { registry } = this.deps;
      if (request.request === 'tenants') {
        return { ok: true, answer: describeTenants(registry, (t) => this.deps.closedBecauseOf(t), this.deps.sockets()) };
      }
      const tenant = parseTenantPath(request.tenant);
      return { ok: true, answer: explainCall(this.deps.envOf(tenant), registry, request.tool, request.args) };
    } catch (error) {
      if (error instanceof InvalidTenantPathError) return { ok: false, error: error.message };
      this.deps.log.error({ err: error, request: request.request }, 'control request failed');
      return { ok: false, error: "internal error (see gated's log)" };
    }
  }

  async close(): Promise<void> {
    const wasListening = this.server.listening;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
    if (!wasListening) return; // never bound: whatever is at the path is not ours
    try {
      unlinkSync(this.socketPath);
    } catch {
      // already gone
    }
  }
}

function line(answer: ControlAnswer): string {
  return JSON.stringify(answer) + '\n';
}

/** A leftover socket from a previous run is removed; any other kind of file in its place is an error. */
function removeStaleSocket(socketPath: string): void {
  let st;
  try {
    st = lstatSync(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  unlinkSync(socketPath);
}

/** Thrown by askControl when a running gated refuses or cannot answer a request. */
export class ControlError extends Error {}

/**
 * Asks the running gated on `dataDir`. Null when none is running (no socket, or a stale one nobody listens on);
 * throws ControlError when one is running but the request fails (e.g. the socket belongs to another user).
 */
export async function askControl(dataDir: string, request: 'tenants'): Promise<TenantsReport | null>;
export async function askControl(dataDir: string, request: Omit<Extract<ControlRequest, { request: 'explain' }>, 'request'>): Promise<CallExplanation | null>;
export async function askControl(
  dataDir: string,
  request: 'tenants' | Omit<Extract<ControlRequest, { request: 'explain' }>, 'request'>,
): Promise<TenantsReport | CallExplanation | null> {
  const socketPath = controlSocketPath(dataDir);
  if (Buffer.byteLength(socketPath, 'utf8') > MAX_SOCKET_PATH_BYTES) return null; // no gated can serve there
  const body = request === 'tenants' ? { request } : { request: 'explain', ...request };
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const decoder = new StringDecoder('utf8');
    let received = '';
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      fn();
    };
    socket.setTimeout(10_000, () => finish(() => reject(new ControlError(`gated on ${dataDir} did not answer within 10 s`))));
    socket.on('connect', () => socket.write(JSON.stringify(body) + '\n'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') finish(() => resolve(null));
      else finish(() => reject(new ControlError(`cannot ask gated at ${socketPath}: ${error.message}`)));
    });
    socket.on('data', (chunk: Buffer) => {
      received += decoder.write(chunk);
      const end = received.indexOf('\n');
      if (end < 0) return;
      finish(() => {
        let answer: ControlAnswer;
        try {
          answer = JSON.parse(received.slice(0, end)) as ControlAnswer;
        } catch {
          reject(new ControlError(`gated at ${socketPath} sent an unreadable answer`));
          return;
        }
        if (answer.ok) resolve(answer.answer);
        else reject(new ControlError(`gated refused the request: ${answer.error}`));
      });
    });
    socket.on('end', () => finish(() => reject(new ControlError(`gated at ${socketPath} closed the connection without answering`))));
  });
}
