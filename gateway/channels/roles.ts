// Classroom roles: a group's folder name carries its role (`acme/student_07`, `acme/ta_01`, `acme/instructor_01`), and
// a person paired to such a group holds that role. Pure decisions only; the users store (users.ts) keeps bindings.
import { tenantPathProblem, type TenantPath } from '../../core/tenant-path.js';

export type Role = 'student' | 'ta' | 'instructor';

/** A person's tie to one group: the role is the one the group's folder name carried when they paired. */
export interface Binding {
  group: TenantPath;
  role: Role;
}

const ROLE_FOLDER = /^(student|ta|instructor)_[0-9]+$/;

/**
 * The role a group's folder name carries, with its world, or null. Only a folder directly under a world counts
 * (`acme/ta_01`, not `acme/x/ta_01` nor a world called `ta_01`), so a role cannot be picked up by nesting.
 */
export function roleOfGroup(group: string): { role: Role; world: string } | null {
  if (tenantPathProblem(group) !== null) return null;
  const segments = group.split('/');
  if (segments.length !== 2) return null;
  const m = ROLE_FOLDER.exec(segments[1]!);
  return m ? { role: m[1] as Role, world: segments[0]! } : null;
}

/**
 * Whether one binding makes its holder an admin of `group`: an instructor administers the whole world (the world
 * itself and everything below it), a TA every `student_*` and `ta_*` group of the world, a student nothing. A binding
 * whose group no longer carries the role it was paired with (the folder was renamed) grants nothing.
 */
export function bindingCovers(binding: Binding, group: string): boolean {
  const held = roleOfGroup(binding.group);
  if (!held || held.role !== binding.role) return false;
  if (tenantPathProblem(group) !== null) return false;
  if (binding.role === 'instructor') return group === held.world || group.startsWith(`${held.world}/`);
  if (binding.role === 'ta') {
    const target = roleOfGroup(group);
    return target !== null && target.world === held.world && (target.role === 'student' || target.role === 'ta');
  }
  return false;
}

/** Whether a person with these bindings may run an admin command (/status, /new, /pause, /resume) for `group`. */
export function coversGroup(bindings: readonly Binding[], group: string): boolean {
  return bindings.some((b) => bindingCovers(b, group));
}

