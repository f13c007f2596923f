// The OpenAPI 3.1 document of the API, generated from the route table's zod schemas (z.toJSONSchema), so the
// document cannot drift from what the server checks. PURE.
import { z } from 'zod';
import type { Need } from './principals.js';
import type { Route } from './route.js';

/** `/v1/tenants/:tenant` -> `/v1/tenants/{tenant}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, '{$1}');
}

function schemaOf(schema: z.ZodType): Record<string, unknown> {
  // `input`: what a client sends (before transforms such as a tenant id becoming a path).
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

function parametersOf(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const json = schemaOf(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: s,
  }));
}

/** How the document states what a route needs (x-warren-access), worked out from a sample input. */
function accessOf(route: Route): string {
  let need: Need;
  try {
    need = route.need({ params: { tenant: 'acme' }, query: {}, body: {} } as never);
  } catch {
    return 'tenant';
  }
  if (need.kind === 'public') return 'public';
  if (need.kind === 'operator') return 'operator';
  return `${need.access}${need.tenant === null ? ' (listing: cut to the token\'s subtree)' : ' on the tenant'}`;
}

export function openApiDocument(routes: readonly Route[], info: { version: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${openApiPath(r.path).replace(/[^A-Za-z0-9]+(.)?/g, (_, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
      'x-warren-access': accessOf(r),
      parameters: [...parametersOf(r.params, 'path'), ...parametersOf(r.query, 'query')],
      responses: {
        [String(r.status ?? 200)]: { description: 'success' },
        default: { description: 'an error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(r.body) } } };
    const access = op['x-warren-access'];
    if (access !== 'public') op.security = [{ bearer: [] }];
    (paths[openApiPath(r.path)] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'warren HTTP API', version: info.version },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'the operator token (DATA/operator.token) or a token from warren tokens issue' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
        },
      },
    },
  };
}
