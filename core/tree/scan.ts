// Finds the tenant folders under tenants/ (or under one tenant) without following a single symlink. Reports bad
// folder names, symlinks, root's would-be children and over-deep folders; never looks inside home/ or skills/.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConfigError } from '../config-error.js';
import { ROOT, segmentProblem, type TenantPath } from '../tenant-path.js';
import { HOME_DIR, isHidden, MAX_DEPTH, OPERATOR_FILES, SKILLS_DIR, tenantDir, treePathProblem } from './layout.js';
import { describe, isCode } from './read-file.js';

/**
 * A tree-level problem. `owner` is the tenant whose re-scan re-checks it: the would-be tenant itself when the entry
 * has a valid tenant path (a symlinked folder), else the folder that contains it ('' = the tenants folder).
 */
export interface ScanError extends ConfigError {
  owner: TenantPath | '';
}

export interface ScanResult {
  /** Tenant paths found, sorted. */
  tenants: TenantPath[];
  errors: ScanError[];
}

/** Scans the whole tree, or only the subtree at `under` (which must itself still be a real folder to be listed). */
export function scanTree(tenantsDir: string, under?: TenantPath): ScanResult {
  const root = path.resolve(tenantsDir);
  const out: ScanResult = { tenants: [], errors: [] };
  if (under === undefined) {
    let st: fs.Stats;
    try {
      st = fs.statSync(root); // the configured tenants folder itself may be a symlink the operator chose
    } catch (err) {
      const message = isCode(err, 'ENOENT') ? 'tenants folder does not exist' : `cannot read: ${describe(err)}`;
      out.errors.push({ file: root, line: 0, message, owner: '' });
      return out;
    }
    if (!st.isDirectory()) {
      out.errors.push({ file: root, line: 0, message: 'tenants folder is not a folder', owner: '' });
      return out;
    }
    walk(root, root, '', out);
  } else {
    scanSubtree(root, under, out);
  }
  out.tenants.sort();
  return out;
}

function scanSubtree(root: string, under: TenantPath, out: ScanResult): void {
  if (treePathProblem(under) !== null) return; // never a tenant folder: nothing below
  const segments = under.split('/');
  // Every ancestor must still be a real folder; otherwise the subtree is gone (the ancestor's scan reports why).
  let dir = root;
  for (let i = 0; i < segments.length; i++) {
    dir = path.join(dir, segments[i]!);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch {
      return;
    }
    const last = i === segments.length - 1;
    if (last && st.isSymbolicLink()) {
      out.errors.push({ file: dir, line: 0, message: 'is a symlink; tenant folders are never followed', owner: under });
      return;
    }
    if (!st.isDirectory()) return;
  }
  walk(root, dir, under, out);
}

/** Records `tenant` (whose folder is `dir`, already checked) and descends into its children. */
function walk(root: string, dir: string, tenant: TenantPath | '', out: ScanResult): void {
  if (tenant !== '') out.tenants.push(tenant);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    out.errors.push({ file: dir, line: 0, message: `cannot read folder: ${describe(err)}`, owner: tenant });
    return;
  }
  const depth = tenant === '' ? 0 : tenant.split('/').length;
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const name = entry.name;
    if (isHidden(name)) continue;
    if (tenant !== '' && name === HOME_DIR) continue; // home/ belongs to the agent: never read, never listed
    if (tenant !== '' && (name === SKILLS_DIR || OPERATOR_FILES.has(name))) continue; // the loader's files
    const file = path.join(dir, name);
    const nameProblem = segmentProblem(name);
    const child = tenant === '' ? name : `${tenant}/${name}`;
    const err = (message: string, owner: TenantPath | '') => out.errors.push({ file, line: 0, message, owner });

    if (entry.isSymbolicLink()) {
      const childIsTenantPath = nameProblem === null && tenant !== ROOT && depth < MAX_DEPTH;
      err('is a symlink; tenant folders are never followed', childIsTenantPath ? child : tenant);
      continue;
    }
    if (!entry.isDirectory()) continue; // notes, READMEs: not ours
    if (nameProblem) {
      err(`invalid tenant folder name: ${nameProblem}`, tenant);
      continue;
    }
    if (tenant === ROOT) {
      err('root has no child tenants; this folder is ignored', tenant);
      continue;
    }
    if (depth >= MAX_DEPTH) {
      err(`tenant tree is deeper than ${MAX_DEPTH} levels; this folder is ignored`, tenant);
      continue;
    }
    walk(root, tenantDir(root, child), child, out);
  }
}
