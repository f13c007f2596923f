// The gateway's one HTTP server (hono on node:http): the REST API v1 (gateway/http/routes.ts), /metrics, and any
// extra routes mounted by other parts (web chat, webhooks, the dashboard). Loopback by default. Every route declares
// what it needs; the server resolves the caller's principal from the bearer token, validates the request with the
// route's zod schemas and runs `authorize` before the handler. Errors are JSON `{error, problems?}`, never a stack.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import type { Logger } from '../core/log.js';
import type { ApiTokens } from './http/api-tokens.js';
import { HttpError } from './http/errors.js';
import { openApiDocument } from './http/openapi.js';
import { authorize, NO_TOKEN, type Principal } from './http/principals.js';
import { route, type Route } from './http/route.js';
import { apiRoutes, SESSION_COOKIE_ROUTES, type ApiDeps } from './http/routes.js';
import { tokenMatches } from './operator-token.js';

export const MAX_BODY_BYTES = 256 * 1024;
export const API_VERSION = '1.0.0';

export interface HttpDeps extends ApiDeps {
  /** The operator token: everything. */
  token: string;
  /** Scoped tokens issued with `warren tokens`. */
  tokens: ApiTokens;
  log: Logger;
  /** Mounts more routes on the same server (web chat and webhooks: `channelRoutes(deps)`); they do their own auth. */
  extraRoutes?(app: Hono): void;
  /**
   * A dashboard session's principal from the Cookie header, for the routes in SESSION_COOKIE_ROUTES only (the SSE
   * route: EventSource cannot send an Authorization header). A bearer token, when sent, always decides.
   */
  sessionPrincipal?(cookieHeader: string | undefined): Principal | null;
}

/** Every route the server serves, the OpenAPI document's own included. */
export function allRoutes(deps: ApiDeps): Route[] {
  const routes = apiRoutes(deps);
  const document = openApiDocument([...routes, openApiRoute(() => ({}))], { version: API_VERSION });
  return [...routes, openApiRoute(() => document)];
}

function openApiRoute(document: () => unknown): Route {
  return route({
    method: 'GET', path: '/v1/openapi.json', summary: 'this API as an OpenAPI 3.1 document (no token needed)',
    need: () => ({ kind: 'public' }),
    handle: () => document(),
  });
}

/** The principal a bearer token stands for: the operator token, a live scoped token, or nobody. */
export function principalOf(header: string | undefined, deps: Pick<HttpDeps, 'token' | 'tokens'>): Principal | null {
  const presented = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!presented) return null;
  if (tokenMatches(deps.token, presented)) return { kind: 'operator' };
  return deps.tokens.principal(presented);
}

function problemsOf(error: z.ZodError, where: string): string[] {
  return error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`);
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string, status: 400 | 422 = 400): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value);
  if (!result.success) {
    const problems = problemsOf(result.error, where);
    throw new HttpError(status, problems.join('; '), problems);
  }
  return result.data;
}

async function readBody(c: Context): Promise<unknown> {
  if (!/^application\/json\b/.test(c.req.header('content-type') ?? '')) throw new HttpError(415, 'send JSON (content-type: application/json)');
  try {
    return await c.req.json();
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, 'body is not valid JSON');
  }
}

/** Whether a route needs no token whatever the request says; a need that cannot be worked out is not public. */
function isPublic(r: Route): boolean {
  try {
    return r.need({ params: {}, query: {}, body: {} } as never).kind === 'public';
  } catch {
    return false;
  }
}

export function createApp(deps: HttpDeps): Hono {
  const app = new Hono();
  // The rest of an oversized body is never read, so the connection cannot carry another request: say so.
  const tooLarge = (c: Context) => c.json({ error: `body larger than ${MAX_BODY_BYTES} bytes` }, 413, { connection: 'close' });
  app.use('*', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge }));
  for (const r of allRoutes(deps)) {
    const publicRoute = isPublic(r);
    const cookieAuth = SESSION_COOKIE_ROUTES.has(r.path) && deps.sessionPrincipal !== undefined;
    app.on(r.method, r.path, async (c) => {
      const authorization = c.req.header('authorization');
      const principal =
        cookieAuth && authorization === undefined ? deps.sessionPrincipal!(c.req.header('cookie')) : principalOf(authorization, deps);
      // Nobody learns anything about a request (not even that it is malformed) without a token.
      if (!publicRoute && !principal) throw new HttpError(401, NO_TOKEN);
      const params = parse(r.params, c.req.param(), 'path');
      const query = parse(r.query, c.req.query(), 'query');
      const body = r.body ? parse(r.body, await readBody(c), 'body', r.invalidStatus) : undefined;
      const decision = authorize(principal, r.need({ params, query, body }));
      if (!decision.ok) return c.json({ error: decision.error }, decision.status);
      const result = await r.handle({ params, query, body, principal, under: decision.under, c });
      if (result instanceof Response) return result;
      return c.json(result as object, r.status ?? 200);
    });
  }
  deps.extraRoutes?.(app);
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    if (error instanceof HttpError) return c.json({ error: error.message, ...(error.problems ? { problems: error.problems } : {}) }, error.status);
    deps.log.error({ err: error, method: c.req.method, path: c.req.path }, 'http handler failed');
    return c.json({ error: 'internal error; see the gateway log' }, 500);
  });
  return app;
}

export function createHttpApi(deps: HttpDeps): Server {
  const app = createApp(deps);
  const server = createServer(getRequestListener(app.fetch));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

export async function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}
