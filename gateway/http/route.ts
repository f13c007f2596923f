// How a route of the HTTP API is declared: its schemas (zod; the OpenAPI document is generated from them), what it
// needs (one `need` function per route, run by the server before the handler) and its handler. The server in
// gateway/http.ts is the only place that turns these into hono routes.
import type { Context } from 'hono';
import { z } from 'zod';
import { parseTenantPath, type TenantPath } from '../../core/tenant-path.js';
import type { Need, Principal } from './principals.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Parsed<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

export interface RouteContext<P, Q, B> extends Parsed<P, Q, B> {
  principal: Principal | null;
  /** The subtree the answer must be cut to (from authorize); null: everything. */
  under: TenantPath | null;
  c: Context;
}

export interface Route<P = any, Q = any, B = any> {
  method: Method;
  /** hono path syntax: `/v1/tenants/:tenant`. */
  path: string;
  summary: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** The status of a request its schemas refuse (default 400). */
  invalidStatus?: 400 | 422;
  /** Success status (default 200). */
  status?: 200 | 201 | 202;
  need(input: Parsed<P, Q, B>): Need;
  /** A plain value is sent as JSON; a Response (SSE, text) is sent as it is. */
  handle(ctx: RouteContext<P, Q, B>): unknown;
}

/** Identity helper that keeps each route's types tied to its schemas. */
export function route<P, Q, B>(r: Route<P, Q, B>): Route<P, Q, B> {
  return r;
}

/**
 * A tenant in a URL path: its id, the path with "/" written "." (`acme.support`), as socket ids are; tenant names
 * never contain ".". In a query or body it is the plain path (`acme/support`).
 */
export const tenantId = z
  .string()
  .max(1100)
  .transform((id, ctx) => {
    try {
      return parseTenantPath(id.replaceAll('.', '/'));
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

export const tenantPath = z
  .string()
  .max(1100)
  .transform((path, ctx) => {
    try {
      return parseTenantPath(path);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

/** A query number: digits only, so "1e3", "-1" and "0x10" are refused rather than read as something else. */
export const wholeNumber = z
  .string()
  .regex(/^[0-9]{1,15}$/, 'a non-negative whole number')
  .transform(Number);

export const pageLimit = z
  .string()
  .regex(/^[0-9]{1,4}$/, 'a whole number from 1 to 500')
  .transform(Number)
  .pipe(z.number().int().min(1).max(500));
