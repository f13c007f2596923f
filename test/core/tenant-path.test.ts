// The tenant path rules: what a folder name may be, and how operator input is normalised.
import { describe, expect, it } from 'vitest';
import { InvalidTenantPathError, parseTenantPath, segmentProblem, tierOf } from '../../core/tenant-path.js';

describe('tenant paths', () => {
  it.each([
    ['acme', null],
    ['a-b_9', null],
    ['x-', null],
    ['-rf', /may not start with "-"/],
    ['--help', /may not start with "-"/],
    ['-', /may not start with "-"/],
    ['Acme', /lowercase letters/],
    ['home', /reserved/],
    ['web', /reserved/],
    ['', /empty/],
  ])('segment %j', (name, problem) => {
    const found = segmentProblem(name);
    if (problem === null) expect(found).toBeNull();
    else expect(found).toMatch(problem);
  });

  it('normalises slashes and refuses bad input with an InvalidTenantPathError naming the input', () => {
    expect(parseTenantPath('/acme//support/')).toBe('acme/support');
    expect(tierOf(parseTenantPath('acme/support'))).toBe(2);
    expect(() => parseTenantPath('acme/-v')).toThrow(InvalidTenantPathError);
    expect(() => parseTenantPath('acme/-v')).toThrow(/invalid tenant "acme\/-v": folder names may not start with "-"/);
    expect(() => parseTenantPath('root/x')).toThrow(InvalidTenantPathError);
  });
});
