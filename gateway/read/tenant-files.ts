// A tenant's operator files over the API: read them, and replace one only after it parses with the same parser the
// tree loader uses. A bad edit is refused with file:line and the file on disk is untouched; a good one is written to
// a temp file beside it and renamed over it, so a reader never sees half a file.
import { lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllowlist } from '../../core/allowlist.js';
import { formatConfigError, type ConfigError } from '../../core/config-error.js';
import { parseGrants } from '../../core/grants/parse.js';
import type { TenantPath } from '../../core/tenant-path.js';
import { ALLOWLIST_FILE, GRANTS_FILE, MAX_FILE_BYTES, PERSONA_FILE, SKILLS_DIR, SKILL_FILE, tenantDir } from '../../core/tree/layout.js';
import { parsePersona } from '../../core/tree/persona.js';

export const EDITABLE_FILES = { persona: PERSONA_FILE, grants: GRANTS_FILE, allowlist: ALLOWLIST_FILE } as const;
export type EditableFile = keyof typeof EDITABLE_FILES;

export class FileEditError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** The problems of a proposed file, as the tree loader would report them (file:line). PURE. */
export function editProblems(which: EditableFile, text: string, file: string, tenant: TenantPath): ConfigError[] {
  if (Buffer.byteLength(text) > MAX_FILE_BYTES) return [{ file, line: 0, message: `larger than ${MAX_FILE_BYTES} bytes` }];
  const name = EDITABLE_FILES[which];
  if (name === PERSONA_FILE) return parsePersona(text, file).errors;
  if (name === GRANTS_FILE) return parseGrants(text, file, tenant).errors;
  return parseAllowlist(text, file).errors;
}

function readRegular(file: string): string | null {
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (!st) return null;
  if (!st.isFile()) throw new FileEditError([`${file} is not a regular file`]);
  return readFileSync(file, 'utf8');
}

export class TenantFiles {
  constructor(private readonly tenantsDir: string) {}

  /** The tenant's persona, grants and allowlist texts (null: no such file) and its skill names. */
  read(tenant: TenantPath): { persona: string | null; grants: string | null; allowlist: string | null; skills: string[] } {
    const dir = tenantDir(this.tenantsDir, tenant);
    const skillsDir = join(dir, SKILLS_DIR);
    const skills = (lstatSync(skillsDir, { throwIfNoEntry: false })?.isDirectory() ? readdirSync(skillsDir, { withFileTypes: true }) : [])
      .filter((e) => e.isDirectory() && lstatSync(join(skillsDir, e.name, SKILL_FILE), { throwIfNoEntry: false })?.isFile())
      .map((e) => e.name)
      .sort();
    return {
      persona: readRegular(join(dir, PERSONA_FILE)),
      grants: readRegular(join(dir, GRANTS_FILE)),
      allowlist: readRegular(join(dir, ALLOWLIST_FILE)),
      skills,
    };
  }

  /** Replaces one file after validating it; throws FileEditError (and changes nothing) when it does not parse. */
  write(tenant: TenantPath, which: EditableFile, text: string): void {
    const file = join(tenantDir(this.tenantsDir, tenant), EDITABLE_FILES[which]);
    const problems = editProblems(which, text, file, tenant);
    if (problems.length) throw new FileEditError(problems.map(formatConfigError));
    readRegular(file); // refuses a symlink or a folder in the file's place
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    try {
      writeFileSync(tmp, text, { mode: 0o644, flag: 'wx' });
      renameSync(tmp, file);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
  }
}
