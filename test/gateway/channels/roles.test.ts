// Classroom roles, by table: which folder names carry a role, and whom each binding makes an admin of.
import { describe, expect, it } from 'vitest';
import { isTenantPath } from '../../../core/tenant-path.js';
import { bindingCovers, coversGroup, roleOfGroup, type Binding } from '../../../gateway/channels/roles.js';

describe('roleOfGroup', () => {
  it.each([
    ['acme/student_01', { role: 'student', world: 'acme' }],
    ['acme/student_7', { role: 'student', world: 'acme' }],
    ['acme/ta_02', { role: 'ta', world: 'acme' }],
    ['cs101/instructor_01', { role: 'instructor', world: 'cs101' }],
    ['acme/student_', null], // NN are digits, at least one
    ['acme/student_ab', null],
    ['acme/student-01', null],
    ['acme/students_01', null],
    ['acme/xstudent_01', null],
    ['acme/student_01x', null],
    ['acme/Student_01', null], // not a tenant name at all
    ['student_01', null], // a world is not a group of a world
    ['acme/team/student_01', null], // only directly under a world: no role picked up by nesting
    ['acme/student_01/sub', null],
    ['acme', null],
    ['root', null],
    ['', null],
    ['acme//student_01', null],
  ])('%s -> %j', (group, expected) => {
    expect(roleOfGroup(group)).toEqual(expected);
  });

  it('names groups that are valid tenant paths', () => {
    for (const g of ['acme/student_01', 'acme/ta_99', 'acme/instructor_00']) expect(isTenantPath(g)).toBe(true);
  });
});

describe('coversGroup (admin commands)', () => {
  const instructor: Binding = { group: 'acme/instructor_01', role: 'instructor' };
  const ta: Binding = { group: 'acme/ta_01', role: 'ta' };
  const student: Binding = { group: 'acme/student_01', role: 'student' };

  it.each([
    // An instructor administers the whole world.
    [instructor, 'acme', true],
    [instructor, 'acme/student_01', true],
    [instructor, 'acme/ta_05', true],
    [instructor, 'acme/instructor_02', true],
    [instructor, 'acme/support', true],
    [instructor, 'acme/support/triage', true],
    [instructor, 'acmex', false],
    [instructor, 'globex/student_01', false],
    [instructor, 'root', false],
    // A TA: every student_* and ta_* of that world, nothing else.
    [ta, 'acme/student_01', true],
    [ta, 'acme/student_42', true],
    [ta, 'acme/ta_01', true],
    [ta, 'acme/ta_02', true],
    [ta, 'acme/instructor_01', false],
    [ta, 'acme', false],
    [ta, 'acme/support', false],
    [ta, 'acme/team/student_01', false],
    [ta, 'globex/student_01', false],
    // A student is a member of its own group, an admin of nothing.
    [student, 'acme/student_01', false],
    [student, 'acme/student_02', false],
    [student, 'acme', false],
    // A binding whose group no longer carries its role (renamed, or a forged row) grants nothing.
    [{ group: 'acme/student_01', role: 'instructor' } as Binding, 'acme/student_02', false],
    [{ group: 'acme/support', role: 'instructor' } as Binding, 'acme/support', false],
    [{ group: 'acme/ta_01', role: 'ta' } as Binding, 'acme/student_01/../x', false],
  ])('%j covers %s: %s', (binding, group, expected) => {
    expect(bindingCovers(binding, group)).toBe(expected);
  });

  it('is covered when any one of several bindings covers the group', () => {
    const both = [student, { group: 'globex/ta_01', role: 'ta' } as Binding];
    expect(coversGroup(both, 'globex/student_03')).toBe(true);
    expect(coversGroup(both, 'acme/student_03')).toBe(false);
    expect(coversGroup([], 'acme/student_01')).toBe(false);
  });
});
