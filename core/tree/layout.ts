// The fixed shape of a tenant folder: which names are operator files, which are reserved, and the size/depth caps.
// Shared by the scanner, the loader and the watcher so the three never disagree about what a path means.
import * as path from 'node:path';
import { RESERVED_NAMES, ROOT, segmentProblem, tenantPathProblem, type TenantPath } from '../tenant-path.js';

export const PERSONA_FILE = 'PERSONA.md';
export const GRANTS_FILE = 'grants';
export const ALLOWLIST_FILE = 'allowlist';
export const SKILLS_DIR = 'skills';
export const SKILL_FILE = 'SKILL.md';
export const HOME_DIR = 'home';
/** The tenant's published site (PERSONA.md `web: true`), mounted at /workspace/web. */
export const WEB_DIR = 'web';

/** Files directly in a tenant folder that the loader reads. */
export const OPERATOR_FILES: ReadonlySet<string> = new Set([PERSONA_FILE, GRANTS_FILE, ALLOWLIST_FILE]);

/** Operator files larger than this are refused (a runaway file must not stall the loader). */
export const MAX_FILE_BYTES = 1024 * 1024;
/** Deepest tenant path, in segments ("acme/support" is 2). Deeper folders are reported and ignored. */
export const MAX_DEPTH = 16;

/** Absolute folder of a tenant. */
export function tenantDir(tenantsDir: string, tenant: TenantPath): string {
  return path.join(tenantsDir, ...tenant.split('/'));
}

/** Dot-entries (editor swap files, .git, ...) are invisible to the tree. */
export function isHidden(name: string): boolean {
  return name.startsWith('.');
}

/** Why a skill folder name is unusable, or null. Same character rule as tenants; reserved names do not apply. */
export function skillNameProblem(name: string): string | null {
  return RESERVED_NAMES.has(name) ? null : segmentProblem(name);
}

/** True when a child folder named `name` inside tenant `parent` ('' = the tenants folder) could be a tenant. */
export function canHoldChild(parent: TenantPath | ''): boolean {
  return parent !== ROOT;
}

/**
 * Splits a path relative to the tenants folder into the tenant that owns it and the rest. The owner is the longest
 * prefix of valid tenant segments (root has no children; depth capped; `grants` and `allowlist` inside a tenant are
 * its files, never children). `rest` is empty when the path IS a tenant
 * folder. `tenant` is '' when the path is the tenants folder itself or a top-level non-tenant entry.
 */
export function splitTreePath(relative: string): { tenant: TenantPath | ''; rest: string[] } {
  const segments = relative.split(/[\\/]/).filter((s) => s.length > 0 && s !== '.');
  const owner: string[] = [];
  let i = 0;
  while (
    i < segments.length &&
    owner.length < MAX_DEPTH &&
    segmentProblem(segments[i]!) === null &&
    canHoldChild(owner.join('/')) &&
    !(owner.length > 0 && OPERATOR_FILES.has(segments[i]!))
  ) {
    owner.push(segments[i]!);
    i++;
  }
  return { tenant: owner.join('/'), rest: segments.slice(i) };
}

/**
 * Why `tenant` can never be a folder of this tree, or null: an invalid path, deeper than MAX_DEPTH, or a child named
 * like one of its parent's operator files (`acme/grants` is acme's grants file, not a tenant).
 */
export function treePathProblem(tenant: TenantPath): string | null {
  const problem = tenantPathProblem(tenant);
  if (problem) return problem;
  const segments = tenant.split('/');
  if (segments.length > MAX_DEPTH) return `tenant tree is deeper than ${MAX_DEPTH} levels`;
  const file = segments.slice(1).find((s) => OPERATOR_FILES.has(s));
  if (file) return `"${file}" inside a tenant is its ${file} file, never a child tenant`;
  return null;
}
