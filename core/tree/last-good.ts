// "Last good" is per file: each operator file of a tenant keeps the last contents of it that parsed. A broken edit of
// a file that parsed before keeps that file's last good contents (and the other files' current ones); a present file
// whose contents never parsed leaves the tenant with no configuration at all, so deny rules an operator wrote are
// never silently missing. A missing file is no contents: deleting a file forgets its last good contents.
import { isDeepStrictEqual } from 'node:util';
import type { AllowlistEntry } from '../allowlist.js';
import type { ConfigError } from '../config-error.js';
import type { Rule } from '../grants/types.js';
import { tierOf, type TenantPath } from '../tenant-path.js';
import { ALLOWLIST_FILE, GRANTS_FILE, PERSONA_FILE } from './layout.js';
import { emptyPersona, type Persona } from './persona.js';
import type { Skill, TenantConfig } from './types.js';

/** What one operator file parsed to. The skills folder is an entry of its own: listing it can fail too. */
export type FileValue =
  | { kind: 'persona'; persona: Persona }
  | { kind: 'grant-rules'; rules: Rule[] }
  | { kind: 'allowlist-entries'; entries: AllowlistEntry[] }
  | { kind: 'skills-folder' }
  | { kind: 'skill'; skill: Skill };

/** One present file as read now; `key` is its path in the tenant folder (`grants`, `skills/sum/SKILL.md`, `skills`). */
export type FileOutcome = { key: string; ok: true; value: FileValue } | { key: string; ok: false; errors: ConfigError[] };

export interface TenantFiles {
  tenant: TenantPath;
  /** Absolute path of the tenant folder. */
  dir: string;
  /** Present files only: a missing file has no outcome. */
  outcomes: FileOutcome[];
}

export interface BrokenFile {
  key: string;
  errors: ConfigError[];
  /** True when the file's last good contents are used instead; false when it never parsed. */
  kept: boolean;
}

export interface Merged {
  /** Per file, the contents that count: the current ones when they parse, else the last good ones. */
  good: Map<string, FileValue>;
  broken: BrokenFile[];
  /** False when some present file never parsed: then the tenant has no configuration. */
  usable: boolean;
}

/** Combines the files as read now with each file's last good contents (`previous`, the `good` of the last merge). */
export function mergeLastGood(previous: ReadonlyMap<string, FileValue>, outcomes: readonly FileOutcome[]): Merged {
  const good = new Map<string, FileValue>();
  const broken: BrokenFile[] = [];
  const unlisted: string[] = [];
  for (const o of outcomes) {
    if (o.ok) {
      good.set(o.key, o.value);
      continue;
    }
    const last = previous.get(o.key);
    broken.push({ key: o.key, errors: o.errors, kept: last !== undefined });
    if (last === undefined) continue;
    good.set(o.key, last);
    unlisted.push(`${o.key}/`);
  }
  // Files inside a folder that could not be listed were not seen, not deleted: their last good contents stay.
  for (const [key, value] of previous) {
    if (!good.has(key) && unlisted.some((folder) => key.startsWith(folder))) good.set(key, value);
  }
  return { good, broken, usable: broken.every((b) => b.kept) };
}

/** The configuration the files' contents make; files without contents get their defaults. */
export function assembleConfig(files: Pick<TenantFiles, 'tenant' | 'dir'>, good: ReadonlyMap<string, FileValue>): TenantConfig {
  const persona = good.get(PERSONA_FILE);
  const grants = good.get(GRANTS_FILE);
  const allowlist = good.get(ALLOWLIST_FILE);
  const skills: Skill[] = [];
  for (const key of [...good.keys()].sort()) {
    const value = good.get(key)!;
    if (value.kind === 'skill') skills.push(value.skill);
  }
  return {
    path: files.tenant,
    tier: tierOf(files.tenant),
    dir: files.dir,
    persona: persona?.kind === 'persona' ? persona.persona : emptyPersona(),
    grants: grants?.kind === 'grant-rules' ? grants.rules : [],
    allowlist: allowlist?.kind === 'allowlist-entries' ? allowlist.entries : [],
    skills,
  };
}

/** Keys whose counting contents differ between two merges (added, removed or changed), sorted. */
export function changedFiles(before: ReadonlyMap<string, FileValue>, after: ReadonlyMap<string, FileValue>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => !isDeepStrictEqual(before.get(k), after.get(k))).sort();
}
