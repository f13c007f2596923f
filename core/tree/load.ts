// Loads one tenant's own files (PERSONA.md, grants, allowlist, skills/*/SKILL.md) into a TenantConfig. Children are
// the scanner's business; home/ is never touched. Any error in any file means no config: the caller keeps the last
// good one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllowlist, type AllowlistEntry } from '../allowlist.js';
import type { ConfigError } from '../config-error.js';
import { parseGrants } from '../grants/parse.js';
import type { Rule } from '../grants/types.js';
import { tierOf, type TenantPath } from '../tenant-path.js';
import {
  ALLOWLIST_FILE,
  GRANTS_FILE,
  isHidden,
  PERSONA_FILE,
  SKILL_FILE,
  SKILLS_DIR,
  skillNameProblem,
  tenantDir,
  treePathProblem,
} from './layout.js';
import { emptyPersona, parsePersona, type Persona } from './persona.js';
import { describe, isCode, readOperatorFile } from './read-file.js';
import { parseSkill } from './skill.js';
import type { Skill, TenantConfig } from './types.js';

export interface LoadResult {
  config: TenantConfig | null;
  errors: ConfigError[];
}

/**
 * Why `tenant`'s folder is not a usable tenant folder (path invalid, too deep, missing, or any component a symlink
 * or not a directory), or null. Checks every component so a swapped-in symlink higher up is never followed.
 */
export function tenantFolderProblem(tenantsDir: string, tenant: TenantPath): ConfigError | null {
  const root = path.resolve(tenantsDir);
  const problem = treePathProblem(tenant);
  if (problem) return { file: path.join(root, tenant), line: 0, message: `not a tenant: ${problem}` };
  const segments = tenant.split('/');
  let dir = root;
  for (const segment of segments) {
    dir = path.join(dir, segment);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(dir);
    } catch (err) {
      const missing = isCode(err, 'ENOENT') || isCode(err, 'ENOTDIR');
      return { file: dir, line: 0, message: missing ? 'tenant folder does not exist' : `cannot read: ${describe(err)}` };
    }
    if (st.isSymbolicLink()) return { file: dir, line: 0, message: 'is a symlink; tenant folders are never followed' };
    if (!st.isDirectory()) return { file: dir, line: 0, message: 'is not a folder' };
  }
  return null;
}

export function loadTenant(tenantsDir: string, tenant: TenantPath): LoadResult {
  const folderProblem = tenantFolderProblem(tenantsDir, tenant);
  if (folderProblem) return { config: null, errors: [folderProblem] };
  const dir = tenantDir(path.resolve(tenantsDir), tenant);
  const errors: ConfigError[] = [];

  const persona = loadPersona(path.join(dir, PERSONA_FILE), errors);
  const grants = loadText(path.join(dir, GRANTS_FILE), errors, (text, file): { items: Rule[]; errors: ConfigError[] } => {
    const r = parseGrants(text, file, tenant);
    return { items: r.rules, errors: r.errors };
  });
  const allowlist = loadText(path.join(dir, ALLOWLIST_FILE), errors, (text, file): { items: AllowlistEntry[]; errors: ConfigError[] } => {
    const r = parseAllowlist(text, file);
    return { items: r.entries, errors: r.errors };
  });
  const skills = loadSkills(path.join(dir, SKILLS_DIR), errors);

  if (errors.length > 0 || !persona) return { config: null, errors };
  return { config: { path: tenant, tier: tierOf(tenant), dir, persona, grants, allowlist, skills }, errors: [] };
}

function loadPersona(file: string, errors: ConfigError[]): Persona | null {
  const read = readOperatorFile(file);
  if (read.kind === 'missing') return emptyPersona();
  if (read.kind === 'error') {
    errors.push(read.error);
    return null;
  }
  const parsed = parsePersona(read.text, file);
  errors.push(...parsed.errors);
  return parsed.persona;
}

/** A missing optional file yields no items; a present one must parse without a single error. */
function loadText<T>(
  file: string,
  errors: ConfigError[],
  parse: (text: string, file: string) => { items: T[]; errors: ConfigError[] },
): T[] {
  const read = readOperatorFile(file);
  if (read.kind === 'missing') return [];
  if (read.kind === 'error') {
    errors.push(read.error);
    return [];
  }
  const parsed = parse(read.text, file);
  errors.push(...parsed.errors);
  return parsed.items;
}

function loadSkills(skillsDir: string, errors: ConfigError[]): Skill[] {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(skillsDir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    errors.push({ file: skillsDir, line: 0, message: `cannot read: ${describe(err)}` });
    return [];
  }
  if (st.isSymbolicLink()) {
    errors.push({ file: skillsDir, line: 0, message: 'is a symlink; skill folders are never followed' });
    return [];
  }
  if (!st.isDirectory()) {
    errors.push({ file: skillsDir, line: 0, message: 'is not a folder' });
    return [];
  }
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(skillsDir, { withFileTypes: true });
  } catch (err) {
    errors.push({ file: skillsDir, line: 0, message: `cannot read: ${describe(err)}` });
    return [];
  }
  const skills: Skill[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (isHidden(entry.name)) continue;
    const folder = path.join(skillsDir, entry.name);
    if (entry.isSymbolicLink()) {
      errors.push({ file: folder, line: 0, message: 'is a symlink; skill folders are never followed' });
      continue;
    }
    if (!entry.isDirectory()) continue; // a README or notes next to the skill folders
    const nameProblem = skillNameProblem(entry.name);
    if (nameProblem) {
      errors.push({ file: folder, line: 0, message: `invalid skill folder name: ${nameProblem}` });
      continue;
    }
    const file = path.join(folder, SKILL_FILE);
    const read = readOperatorFile(file);
    if (read.kind === 'missing') {
      errors.push({ file, line: 0, message: `skill folder "${entry.name}" has no ${SKILL_FILE}` });
      continue;
    }
    if (read.kind === 'error') {
      errors.push(read.error);
      continue;
    }
    const parsed = parseSkill(read.text, file, entry.name);
    errors.push(...parsed.errors);
    if (parsed.skill) skills.push(parsed.skill);
  }
  return skills;
}
