// Reads one tenant's own files (PERSONA.md, grants, allowlist, skills/*/SKILL.md), each on its own. Children are the
// scanner's business; home/ is never touched. Which contents count when a file does not parse is last-good.ts's
// decision.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllowlist } from '../allowlist.js';
import type { ConfigError } from '../config-error.js';
import { parseGrants } from '../grants/parse.js';
import type { TenantPath } from '../tenant-path.js';
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
import { assembleConfig, mergeLastGood, type FileOutcome, type FileValue, type TenantFiles } from './last-good.js';
import { parsePersona } from './persona.js';
import { describe, isCode, readOperatorFile } from './read-file.js';
import { parseSkill } from './skill.js';
import type { TenantConfig } from './types.js';

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

/**
 * The current files of a tenant folder, each on its own, with no memory of earlier loads (the registry adds that).
 * `files` is null when the folder itself is not a usable tenant folder (`errors` says why).
 */
export function readTenantFiles(tenantsDir: string, tenant: TenantPath): { files: TenantFiles | null; errors: ConfigError[] } {
  const folderProblem = tenantFolderProblem(tenantsDir, tenant);
  if (folderProblem) return { files: null, errors: [folderProblem] };
  const dir = tenantDir(path.resolve(tenantsDir), tenant);
  const outcomes: FileOutcome[] = [];
  const persona = readOne(dir, PERSONA_FILE, (text, file) => {
    const r = parsePersona(text, file);
    return r.persona ? { value: { kind: 'persona', persona: r.persona } } : { errors: r.errors };
  });
  const grants = readOne(dir, GRANTS_FILE, (text, file) => {
    const r = parseGrants(text, file, tenant);
    return r.errors.length > 0 ? { errors: r.errors } : { value: { kind: 'grant-rules', rules: r.rules } };
  });
  const allowlist = readOne(dir, ALLOWLIST_FILE, (text, file) => {
    const r = parseAllowlist(text, file);
    return r.errors.length > 0 ? { errors: r.errors } : { value: { kind: 'allowlist-entries', entries: r.entries } };
  });
  for (const o of [persona, grants, allowlist]) if (o) outcomes.push(o);
  outcomes.push(...readSkills(dir));
  return { files: { tenant, dir, outcomes }, errors: [] };
}

/** The tenant's current files alone: a config only when every present file parses (no last good contents). */
export function loadTenant(tenantsDir: string, tenant: TenantPath): LoadResult {
  const read = readTenantFiles(tenantsDir, tenant);
  if (!read.files) return { config: null, errors: read.errors };
  const merged = mergeLastGood(new Map(), read.files.outcomes);
  const errors = merged.broken.flatMap((b) => b.errors);
  return { config: merged.usable ? assembleConfig(read.files, merged.good) : null, errors };
}

type Parsed = { value: FileValue } | { errors: ConfigError[] };

/** One operator file: null when missing, else what it parsed to or why it did not. */
function readOne(dir: string, key: string, parse: (text: string, file: string) => Parsed): FileOutcome | null {
  const file = path.join(dir, ...key.split('/'));
  const read = readOperatorFile(file);
  if (read.kind === 'missing') return null;
  if (read.kind === 'error') return { key, ok: false, errors: [read.error] };
  const parsed = parse(read.text, file);
  return 'value' in parsed ? { key, ok: true, value: parsed.value } : { key, ok: false, errors: parsed.errors };
}

/**
 * The skills folder and each skill's SKILL.md. The folder is an outcome of its own (key `skills`): when it cannot be
 * listed, its skills are unknown rather than missing, so the registry keeps their last good contents.
 */
function readSkills(dir: string): FileOutcome[] {
  const skillsDir = path.join(dir, SKILLS_DIR);
  const folderError = (file: string, message: string): FileOutcome[] => [{ key: SKILLS_DIR, ok: false, errors: [{ file, line: 0, message }] }];
  let st: fs.Stats;
  try {
    st = fs.lstatSync(skillsDir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    return folderError(skillsDir, `cannot read: ${describe(err)}`);
  }
  if (st.isSymbolicLink()) return folderError(skillsDir, 'is a symlink; skill folders are never followed');
  if (!st.isDirectory()) return folderError(skillsDir, 'is not a folder');
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(skillsDir, { withFileTypes: true });
  } catch (err) {
    return folderError(skillsDir, `cannot read: ${describe(err)}`);
  }
  const out: FileOutcome[] = [{ key: SKILLS_DIR, ok: true, value: { kind: 'skills-folder' } }];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (isHidden(entry.name)) continue;
    const folder = path.join(skillsDir, entry.name);
    const key = `${SKILLS_DIR}/${entry.name}/${SKILL_FILE}`;
    const fail = (file: string, message: string) => out.push({ key, ok: false, errors: [{ file, line: 0, message }] });
    if (entry.isSymbolicLink()) {
      fail(folder, 'is a symlink; skill folders are never followed');
      continue;
    }
    if (!entry.isDirectory()) continue; // a README or notes next to the skill folders
    const nameProblem = skillNameProblem(entry.name);
    if (nameProblem) {
      fail(folder, `invalid skill folder name: ${nameProblem}`);
      continue;
    }
    const skill = readOne(dir, key, (text, file) => {
      const r = parseSkill(text, file, entry.name);
      return r.skill ? { value: { kind: 'skill', skill: r.skill } } : { errors: r.errors };
    });
    if (skill) out.push(skill);
    else fail(path.join(folder, SKILL_FILE), `skill folder "${entry.name}" has no ${SKILL_FILE}`);
  }
  return out;
}
