// Every route of the HTTP API v1 with what it needs. Adding a route here adds it to the server, to the OpenAPI
// document and to the authorisation matrix test (which walks this list), so none can be added without a `need`.
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { GatedStore } from '../../gated/store.js';
import type { TenantRegistry } from '../../core/tree/registry.js';
import { acceptMessage, InboundError, InboundSchema } from '../inbound.js';
import { InvalidTenantPathError, parseTenantPath, type TenantPath } from '../../core/tenant-path.js';
import type { LiveHub } from '../live/hub.js';
import { liveOutputResponse } from '../live/sse.js';
import type { OutboxView } from '../outbox-view.js';
import type { ReadFacade } from '../read/facade.js';
import { statusReport, type CoordinatorView } from '../status.js';
import { EDITABLE_FILES, FileEditError, type EditableFile, type TenantFiles } from '../read/tenant-files.js';
import { HttpError } from './errors.js';
import type { Metrics } from './metrics.js';
import { pageLimit, route, tenantId, tenantPath, wholeNumber, type Route } from './route.js';

/** Names only: values are set, never read back. */
export interface SecretsPort {
  names(tenant: TenantPath): string[];
  set(tenant: TenantPath, name: string, value: string): void;
  remove(tenant: TenantPath, name: string): boolean;
}

export interface ApiDeps {
  store: GatedStore;
  registry: TenantRegistry;
  outbox: OutboxView;
  read: ReadFacade;
  files: TenantFiles;
  metrics: Metrics;
  /** null: no secrets store on this DATA (the secret routes answer 503). */
  secrets: SecretsPort | null;
  /** A message was stored: look at the queue now. */
  onAccepted(): void;
  activeRuns(): number;
  streamPollMs?: number;
  /** Runs' live output; without it the output route answers 404. */
  liveOutput?: LiveHub;
  /** The turn loop's live coordinator of a tenant (for the status route); absent: none runs here. */
  coordinatorView?: (tenant: TenantPath) => CoordinatorView | null;
}

/** Routes a dashboard session's cookie also authenticates (same `authorize`): EventSource cannot send headers. */
export const SESSION_COOKIE_ROUTES: ReadonlySet<string> = new Set(['/v1/tenants/:tenant/runs/:run/output']);

const tenantParams = z.object({ tenant: tenantId }).strict();
/** The need of a route on the tenant named in its path. */
const onTenant =
  (access: 'read' | 'write') =>
  <P extends { tenant: TenantPath }>(i: { params: P }) =>
    ({ kind: 'tenant', access, tenant: i.params.tenant }) as const;
const known = (deps: ApiDeps, tenant: TenantPath) => {
  if (!deps.registry.get(tenant)) throw new HttpError(404, `no tenant ${tenant}`);
};
const secrets = (deps: ApiDeps) => {
  if (!deps.secrets) throw new HttpError(503, 'no secrets store on this DATA folder (warren secrets init)');
  return deps.secrets;
};
/** A tenant named in a message body: an invalid one is the message's problem (422), as acceptMessage says it. */
function tenantOrRefuse(raw: string): TenantPath {
  try {
    return parseTenantPath(raw);
  } catch (error) {
    if (error instanceof InvalidTenantPathError) throw new HttpError(422, error.message);
    throw error;
  }
}

const jsonObject = z.record(z.string(), z.unknown());

export function apiRoutes(deps: ApiDeps): Route[] {
  return [
    route({
      method: 'GET', path: '/v1/health', summary: 'liveness and the number of running turns (no token needed)',
      need: () => ({ kind: 'public' }),
      handle: () => ({ ok: true, runs: deps.activeRuns() }),
    }),
    route({
      method: 'GET', path: '/metrics', summary: 'Prometheus metrics (text format; operator token)',
      need: () => ({ kind: 'operator' }),
      handle: async ({ c }) => c.body(await deps.metrics.render(), 200, { 'content-type': deps.metrics.contentType }),
    }),
    route({
      method: 'POST', path: '/v1/messages', summary: 'send a message to a tenant; stored before anything else',
      // The schema every channel's messages are held to; a message that fails it is 422, as it always was.
      body: InboundSchema, invalidStatus: 422, status: 202,
      need: ({ body }) => ({ kind: 'tenant', access: 'write', tenant: tenantOrRefuse(body.tenant) }),
      handle: ({ body }) => {
        try {
          const accepted = acceptMessage(deps.store, deps.registry, body);
          deps.onAccepted();
          return accepted;
        } catch (error) {
          if (error instanceof InboundError) throw new HttpError(422, error.message);
          throw error;
        }
      },
    }),
    route({
      method: 'GET', path: '/v1/messages', summary: "a tenant's replies (finished runs only), paged by next_after",
      query: z.object({ tenant: tenantPath, after: wholeNumber.optional(), topic: z.string().max(200).optional() }).strict(),
      need: ({ query }) => ({ kind: 'tenant', access: 'read', tenant: query.tenant }),
      handle: ({ query }) => deps.read.replies(query.tenant, { after: query.after ?? 0, topic: query.topic }),
    }),
    route({
      method: 'GET', path: '/v1/stream', summary: "a tenant's replies as server-sent events, one per new row",
      query: z.object({ tenant: tenantPath, after: wholeNumber.optional() }).strict(),
      need: ({ query }) => ({ kind: 'tenant', access: 'read', tenant: query.tenant }),
      handle: ({ query, c }) => {
        const next = deps.outbox.follower(query.tenant, query.after ?? deps.outbox.latestId(query.tenant));
        c.header('cache-control', 'no-store');
        return streamSSE(c, async (stream) => {
          await stream.write(': warren stream\n\n');
          let open = true;
          stream.onAbort(() => {
            open = false;
          });
          let idle = 0;
          while (open) {
            for (const row of next()) await stream.writeSSE({ id: String(row.id), data: JSON.stringify(row) });
            await stream.sleep(deps.streamPollMs ?? 100);
            idle += deps.streamPollMs ?? 100;
            if (idle >= 15_000) {
              idle = 0;
              await stream.write(': ping\n\n');
            }
          }
        });
      },
    }),
    route({
      method: 'GET', path: '/v1/tenants', summary: 'the tenant tree: tier, status, errors with file:line (as warren tenants)',
      need: () => ({ kind: 'tenant', access: 'read', tenant: null, listing: true }),
      handle: ({ under }) => deps.read.tenants(under),
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant', summary: "one tenant's status and files (persona, grants, allowlist, skills)",
      params: tenantParams, need: onTenant('read'),
      handle: ({ params }) => {
        known(deps, params.tenant);
        const row = deps.read.tenants(params.tenant).tenants.find((t) => t.tenant === params.tenant) ?? null;
        return { ...row, files: deps.files.read(params.tenant) };
      },
    }),
    route({
      method: 'PUT', path: '/v1/tenants/:tenant/files/:file',
      summary: 'replace PERSONA.md, grants or allowlist; validated first (a bad edit changes nothing), written atomically',
      params: z.object({ tenant: tenantId, file: z.enum(Object.keys(EDITABLE_FILES) as [EditableFile, ...EditableFile[]]) }).strict(),
      body: z.object({ text: z.string() }).strict(),
      need: onTenant('write'),
      handle: ({ params, body }) => {
        known(deps, params.tenant);
        try {
          deps.files.write(params.tenant, params.file, body.text);
        } catch (error) {
          if (error instanceof FileEditError) throw new HttpError(422, 'the file was not changed', error.problems);
          throw error;
        }
        return { ok: true };
      },
    }),
    route({
      method: 'POST', path: '/v1/tenants/:tenant/explain', summary: 'what a tool call would get, and why (as warren grants explain)',
      params: tenantParams, body: z.object({ tool: z.string().min(1).max(200), args: jsonObject.default({}) }).strict(),
      need: onTenant('read'),
      handle: ({ params, body }) => deps.read.explain(params.tenant, body.tool, body.args),
    }),
    route({
      method: 'GET', path: '/v1/audit', summary: 'audit rows, newest first; filter by subtree, tool, decision, time; page with before',
      query: z
        .object({
          tenant: tenantPath.optional(),
          tool: z.string().max(200).optional(),
          decision: z.enum(['allow', 'deny', 'unknown', 'invalid']).optional(),
          since: z.iso.datetime().optional(),
          until: z.iso.datetime().optional(),
          before: wholeNumber.optional(),
          limit: pageLimit.optional(),
        })
        .strict(),
      need: ({ query }) => ({ kind: 'tenant', access: 'read', tenant: query.tenant ?? null, listing: true }),
      handle: ({ query, under }) =>
        deps.read.auditPage({ ...query, tenant: undefined, under: under ?? undefined, limit: query.limit ?? 100 }),
    }),
    route({
      method: 'GET', path: '/v1/egress', summary: "crackbox's egress decisions (DNS answers, proxy connects), newest first",
      query: z.object({ tenant: tenantPath.optional(), denied: z.enum(['true', 'false']).optional(), limit: pageLimit.optional() }).strict(),
      need: ({ query }) => ({ kind: 'tenant', access: 'read', tenant: query.tenant ?? null, listing: true }),
      handle: ({ query, under }) => deps.read.egress({ under, deniedOnly: query.denied === 'true', limit: query.limit ?? 50 }),
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/runs', summary: "a tenant's runs (turns), newest first",
      params: tenantParams, query: z.object({ before: z.string().max(40).optional(), limit: pageLimit.optional() }).strict(),
      need: onTenant('read'),
      handle: ({ params, query }) => deps.read.runs(params.tenant, { before: query.before, limit: query.limit ?? 50 }),
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/runs/:run', summary: 'one turn: the run, the messages it answered, what it said',
      params: z.object({ tenant: tenantId, run: z.string().max(100) }).strict(), need: onTenant('read'),
      handle: ({ params }) => {
        const turn = deps.read.turn(params.tenant, params.run);
        if (!turn) throw new HttpError(404, `no run ${params.run} of ${params.tenant}`);
        return turn;
      },
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/runs/:run/output',
      summary: "a run's live output as SSE: backfill from Last-Event-ID or ?after=seq, then live chunks, gaps said, an end",
      params: z.object({ tenant: tenantId, run: z.string().max(100) }).strict(),
      query: z.object({ after: z.string().max(20).optional() }).strict(),
      need: onTenant('read'),
      handle: ({ params, query, c }) => {
        // Another tenant's run is not there: the same 404 as a run that never was.
        if (!deps.liveOutput || deps.liveOutput.store.state(params.run)?.tenant !== params.tenant) {
          throw new HttpError(404, `no live output of run ${params.run} of ${params.tenant}`);
        }
        return liveOutputResponse(deps.liveOutput, params.run, { lastEventId: c.req.header('last-event-id'), after: query.after ?? null });
      },
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/status',
      summary: "what /status says: the tenant's coordinator, running turns and workers (what each does, for how long); no model asked",
      params: tenantParams, need: onTenant('read'),
      handle: ({ params }) => {
        known(deps, params.tenant);
        const { text, json } = statusReport(deps.read.status(params.tenant, deps.coordinatorView?.(params.tenant) ?? null));
        return { ...json, text };
      },
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/topics', summary: "a tenant's conversations (topics)",
      params: tenantParams, need: onTenant('read'),
      handle: ({ params }) => ({ items: deps.read.topics(params.tenant) }),
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/inbox', summary: 'messages sent to a tenant, newest first',
      params: tenantParams,
      query: z.object({ topic: z.string().max(200).optional(), before: wholeNumber.optional(), limit: pageLimit.optional() }).strict(),
      need: onTenant('read'),
      handle: ({ params, query }) => deps.read.inbox(params.tenant, { ...query, limit: query.limit ?? 50 }),
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/outbox', summary: "a tenant's outbox with delivery state, newest first",
      params: tenantParams, query: z.object({ before: wholeNumber.optional(), limit: pageLimit.optional() }).strict(),
      need: onTenant('read'),
      handle: ({ params, query }) => deps.read.deliveries(params.tenant, { before: query.before, limit: query.limit ?? 50 }),
    }),
    route({
      method: 'GET', path: '/v1/tenants/:tenant/secrets', summary: "the names of a tenant's own secrets (never values)",
      params: tenantParams, need: onTenant('read'),
      handle: ({ params }) => ({ names: secrets(deps).names(params.tenant) }),
    }),
    route({
      method: 'PUT', path: '/v1/tenants/:tenant/secrets/:name', summary: 'set a secret (the value is never read back)',
      params: z.object({ tenant: tenantId, name: z.string().max(128) }).strict(), body: z.object({ value: z.string() }).strict(),
      need: onTenant('write'),
      handle: ({ params, body }) => {
        known(deps, params.tenant);
        try {
          secrets(deps).set(params.tenant, params.name, body.value);
        } catch (error) {
          if (error instanceof HttpError) throw error;
          throw new HttpError(422, (error as Error).message);
        }
        return { ok: true };
      },
    }),
    route({
      method: 'DELETE', path: '/v1/tenants/:tenant/secrets/:name', summary: 'remove a secret',
      params: z.object({ tenant: tenantId, name: z.string().max(128) }).strict(), need: onTenant('write'),
      handle: ({ params }) => {
        if (!secrets(deps).remove(params.tenant, params.name)) throw new HttpError(404, `no secret ${params.name} on ${params.tenant}`);
        return { ok: true };
      },
    }),
    route({
      method: 'GET', path: '/v1/workers', summary: 'workers (none until remote workers exist)',
      need: () => ({ kind: 'operator' }),
      handle: () => ({ items: [] }),
    }),
    route({
      method: 'GET', path: '/v1/channels', summary: 'channel adapters and their status (none until channels are wired)',
      need: () => ({ kind: 'tenant', access: 'read', tenant: null, listing: true }),
      handle: () => ({ items: [] }),
    }),
  ] as Route[];
}
