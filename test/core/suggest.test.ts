import { describe, expect, it } from 'vitest';
import { closestName, editDistance } from '../../core/suggest.js';

describe('editDistance', () => {
  it.each([
    ['model', 'model', 0],
    ['mdoel', 'model', 1], // a transposition is one edit
    ['send_mesage', 'send_message', 1],
    ['chanel', 'chat', 3],
    ['', 'abc', 3],
  ])('%s -> %s is %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('closestName', () => {
  const tools = ['send_message', 'send_file', 'reply', 'like'];
  it.each([
    ['send_mesage', 'send_message'],
    ['sendfile', 'send_file'],
    ['lkie', 'like'],
    ['frobnicate', null], // nothing close: no guess
    ['like', null], // a known name is no typo
    ['', null],
    ['x'.repeat(65), null],
  ])('%s -> %s', (typed, best) => {
    expect(closestName(typed, tools)).toBe(best);
  });
});
