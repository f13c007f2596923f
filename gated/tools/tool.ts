// What a gated tool is: a name, a description, a zod input schema, an optional structural guard, and a handler.
// Grant checks, validation and auditing happen around the handler in call.ts, never inside it.
import type { z } from 'zod';
import type { Db } from '../../core/db.js';
import type { Logger } from '../../core/log.js';
import type { TenantPath, Tier } from '../../core/tenant-path.js';
import type { TenantRegistry } from '../../core/tree/registry.js';
import type { Rule } from '../../core/grants/types.js';
import type { GatedStore } from '../store.js';

/** Set for connections that belong to a container run; null for a tenant's own socket (operators, tests). */
export interface RunContext {
  id: string;
  topic: string;
  /** The chat the turn answers, if it came from one. */
  chat: string | null;
  /** Delegation depth of the work this run is doing (max over the messages it consumed). */
  depth: number;
}

export interface ToolContext {
  tenant: TenantPath;
  tier: Tier;
  run: RunContext | null;
  tenantsDir: string;
  /** Where gated keeps copies of files agents send (outside every tenant folder). */
  filesDir: string;
  registry: TenantRegistry;
  store: GatedStore;
  db: Db;
  log: Logger;
  /** The caller's effective rules (for the subset check of `grant`). */
  rules: readonly Rule[];
  /** The same rules as whoami shows them, and the caller's direct children; both cached with the policy. */
  ruleDescriptions: readonly string[];
  children: readonly TenantPath[];
  /** Max delegation depth (default 3). */
  maxDelegationDepth: number;
  /** Called after a tool changed a tenant's files, so the very next call sees the change. */
  refreshTenant(path: TenantPath): void;
  /**
   * The grant decision again, with the arguments a tool has resolved (`changes`, e.g. a symlinked path's real
   * target) in place of the given ones: a refusal, or null when allowed. Tools call it before acting on a resolved
   * value, so the value checked is the value used.
   */
  refusedAs(changes: Record<string, unknown>): DenyMatch | null;
}

export interface DenyMatch {
  /** The deciding rule as `describeRule` prints it, with its source ("no matching allow rule" when none). */
  rule: string;
  reason: string;
}

export interface ToolResult {
  /** What the agent reads. */
  text: string;
  /** Machine-readable result (MCP structuredContent). */
  data?: Record<string, unknown>;
}

/** An error whose message is shown to the agent as-is: it should say what went wrong and what to do. */
export class ToolError extends Error {}

/** A deny rule matched what the tool was about to do: audited and answered as a denial. */
export class DeniedError extends ToolError {
  constructor(
    message: string,
    readonly rule: string,
  ) {
    super(message);
  }
}

export interface ToolDef<S extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  input: S;
  /**
   * Fills in what the caller left out the way the handler will (defaults that depend on the run); returns the same
   * object when nothing changes. Deny rules are checked against the result as well as against the call as given.
   */
  resolve?(ctx: ToolContext, args: z.infer<S>): z.infer<S>;
  /** Structural guard that holds whatever the grant rules say; returns a reason to refuse, or null. */
  guard?(ctx: ToolContext, args: z.infer<S>): string | null;
  handler(ctx: ToolContext, args: z.infer<S>): ToolResult | Promise<ToolResult>;
}

export function defineTool<S extends z.ZodObject>(def: ToolDef<S>): ToolDef {
  return def as unknown as ToolDef;
}
