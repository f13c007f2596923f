import { describe, it, expect } from 'vitest';
import { secretNameProblem, secretValueProblem, MAX_VALUE_BYTES } from '../../../core/secrets/names.js';

describe('secretNameProblem', () => {
  it.each(['OPENAI_API_KEY', 'A', '_X', 'TOKEN_2', 'GH_TOKEN'])('accepts %s', (name) => {
    expect(secretNameProblem(name)).toBeNull();
  });
  it.each([
    ['', /empty/],
    ['lower', /not a valid name/],
    ['http_proxy', /not a valid name/],
    ['2FA', /not a valid name/],
    ['WITH-DASH', /not a valid name/],
    ['WITH SPACE', /not a valid name/],
    ['PATH', /reserved/],
    ['HOME', /reserved/],
    ['NODE_OPTIONS', /reserved/],
    ['LD_PRELOAD', /reserved/],
    ['LD_LIBRARY_PATH', /reserved/],
    ['HTTP_PROXY', /reserved/],
    ['HTTPS_PROXY', /reserved/],
    ['NO_PROXY', /reserved/],
    ['ALL_PROXY', /reserved/],
    ['WARREN_SECRETS_KEY', /belong to warren/],
    ['WARREN_', /belong to warren/],
    ['A'.repeat(129), /longer than/],
  ])('refuses %j', (name, why) => {
    expect(secretNameProblem(name)).toMatch(why);
  });
});

describe('secretValueProblem', () => {
  it('accepts ordinary values and refuses empty, NUL and oversized ones', () => {
    expect(secretValueProblem('sk-123')).toBeNull();
    expect(secretValueProblem('')).toMatch(/empty/);
    expect(secretValueProblem('a\0b')).toMatch(/NUL/);
    expect(secretValueProblem('x'.repeat(MAX_VALUE_BYTES))).toBeNull();
    expect(secretValueProblem('x'.repeat(MAX_VALUE_BYTES + 1))).toMatch(/larger/);
  });
});
