// Tenant paths and the one tier function. A tenant path is the folder path under tenants/, '/'-separated:
// "root", "acme", "acme/support". Everything that needs a tier, a parent or a socket id asks this module.

export type TenantPath = string;
export type Tier = 0 | 1 | 2;

export const ROOT: TenantPath = 'root';
export const MAX_SEGMENT_LENGTH = 64;
/**
 * Names that are never tenants: a tenant's own folders and operator files (a folder called `grants` would be
 * confused with the file). Dot-folders are excluded by the name rule.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['home', 'web', 'skills', 'grants', 'allowlist']);

const SEGMENT = /^[a-z0-9_-]+$/;

/** Why a folder name cannot be a tenant, or null when it can. */
export function segmentProblem(name: string): string | null {
  if (name.length === 0) return 'empty folder name';
  if (name.length > MAX_SEGMENT_LENGTH) return `folder name longer than ${MAX_SEGMENT_LENGTH} characters`;
  if (!SEGMENT.test(name)) return 'folder names may only use lowercase letters, digits, "-" and "_"';
  // On a command line (`warren send -x ...`) such a name would read as an option.
  if (name.startsWith('-')) return 'folder names may not start with "-" (it would read as a command-line option)';
  if (RESERVED_NAMES.has(name)) return 'a reserved name, never a tenant';
  return null;
}

/** Why a tenant path is invalid, or null when it is valid. */
export function tenantPathProblem(path: string): string | null {
  if (typeof path !== 'string' || path.length === 0) return 'empty tenant path';
  const segments = path.split('/');
  for (const s of segments) {
    const problem = segmentProblem(s);
    if (problem) return `${problem}: "${s}"`;
  }
  if (segments[0] === ROOT && segments.length > 1) return 'root has no child tenants';
  return null;
}

export function isTenantPath(path: string): boolean {
  return tenantPathProblem(path) === null;
}

/** A tenant path that is not valid: operator input mistakes, which the CLI reports as usage errors. */
export class InvalidTenantPathError extends Error {}

/** Normalises operator or agent input ("/acme/support/", "acme//support") to a tenant path; throws if invalid. */
export function parseTenantPath(input: string): TenantPath {
  const path = String(input).split('/').filter((s) => s.length > 0).join('/');
  const problem = tenantPathProblem(path);
  if (problem) throw new InvalidTenantPathError(`invalid tenant "${input}": ${problem}`);
  return path;
}

/** The tier of a tenant: root is 0, top-level worlds are 1, anything deeper is 2. The only tier function. */
export function tierOf(path: TenantPath): Tier {
  if (path === ROOT) return 0;
  return path.includes('/') ? 2 : 1;
}

/** The parent tenant: a world's parent is root; root has none. */
export function parentOf(path: TenantPath): TenantPath | null {
  if (path === ROOT) return null;
  const i = path.lastIndexOf('/');
  return i < 0 ? ROOT : path.slice(0, i);
}

/** Ancestors from the nearest parent up to root (root included for every non-root tenant). */
export function ancestorsOf(path: TenantPath): TenantPath[] {
  const out: TenantPath[] = [];
  for (let p = parentOf(path); p !== null; p = parentOf(p)) out.push(p);
  return out;
}

/** True when `candidate` is strictly below `ancestor`. Root is above every world and its subtree. */
export function isStrictDescendant(candidate: TenantPath, ancestor: TenantPath): boolean {
  if (candidate === ancestor) return false;
  if (ancestor === ROOT) return candidate !== ROOT;
  return candidate.startsWith(ancestor + '/');
}

/** The flat id used for per-tenant directories: "acme/support" -> "acme.support" (segments never contain "."). */
export function tenantId(path: TenantPath): string {
  return path.replaceAll('/', '.');
}

export function pathFromTenantId(id: string): TenantPath {
  return parseTenantPath(id.replaceAll('.', '/'));
}
