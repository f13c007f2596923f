import { describe, it, expect } from 'vitest';
import {
  canonicalArg,
  canonicalArgGlob,
  canonicalChat,
  canonicalPath,
  canonicalTenantArg,
  chatIdProblem,
} from '../../../core/grants/canonical.js';
import { DISGUISED_CHAT_IDS } from './helpers.js';

describe('canonicalPath', () => {
  const cases: [string, string | null][] = [
    ['reports/a.pdf', 'reports/a.pdf'],
    ['/home/node/reports/a.pdf', 'reports/a.pdf'],
    ['./reports//a.pdf', 'reports/a.pdf'],
    ['reports/x/../a.pdf', 'reports/a.pdf'],
    ['reports/', 'reports'],
    ['/home/node', '.'],
    ['/home/node/', '.'],
    ['.', '.'],
    ['a/..', '.'],
    // escapes and foreign absolute paths
    ['../etc/passwd', null],
    ['a/../../x', null],
    ['../node/x', null], // steps out of home, even if only for a moment
    ['/home/node/../node/x', null],
    ['/etc/passwd', null],
    ['/home/nodex/a', null],
    ['/home/other/a', null],
    ['/', null],
    ['', null],
    ['a\u0000b', null],
  ];
  for (const [raw, out] of cases) {
    it(`${JSON.stringify(raw)} -> ${JSON.stringify(out)}`, () => expect(canonicalPath(raw)).toBe(out));
  }
});

describe('canonicalChat', () => {
  it.each([
    ['tg:12345', 'tg:12345'],
    ['  Slack:C0123 ', 'slack:c0123'],
    ['LOCAL:Ops', 'local:ops'],
    ['', null],
    ['   ', null],
  ])('%j -> %j', (raw, out) => expect(canonicalChat(raw)).toBe(out));
});

describe('canonicalTenantArg', () => {
  it.each([
    ['acme/support', 'acme/support'],
    [' /acme//support/ ', 'acme/support'],
    ['acme', 'acme'],
    ['//', null],
    ['', null],
  ])('%j -> %j', (raw, out) => expect(canonicalTenantArg(raw)).toBe(out));
});

describe('canonicalArg: the table by argument name', () => {
  it.each([
    ['path', '/home/node/a', 'a'],
    ['chat', 'TG:1', 'tg:1'],
    ['group', '/acme/', 'acme'],
    ['source', 'acme//x', 'acme/x'],
    ['target', 'acme/', 'acme'],
    ['parent', '/acme', 'acme'],
    ['child', 'acme/x/', 'acme/x'],
    ['text', '  Hello/../ ', '  Hello/../ '], // anything else: as given
    ['reply_to', 'TG:1', 'TG:1'],
    ['__proto__', 'x', 'x'],
    ['constructor', 'x', 'x'],
  ])('%s: %j -> %j', (name, raw, out) => expect(canonicalArg(name, raw)).toBe(out));
});

describe('canonicalArgGlob: rule values compare like with like', () => {
  it.each([
    ['chat', 'TG:*', 'tg:*'],
    ['path', '/home/node/reports/**', 'reports/**'],
    ['path', 'reports//*.pdf/', 'reports/*.pdf'],
    ['group', '/acme/*/', 'acme/*'],
    ['topic', 'Any Thing', 'Any Thing'],
  ])('%s: %j -> %j', (name, glob, out) => expect(canonicalArgGlob(name, glob)).toEqual({ ok: true, glob: out }));

  it.each([
    ['path', '/etc/**'],
    ['path', 'a/../b'],
    ['path', './a'],
    ['path', ''],
    ['chat', ' '],
    ['group', '/'],
  ])('%s: %j is an error', (name, glob) => expect(canonicalArgGlob(name, glob).ok).toBe(false));
});

describe('chatIdProblem: the one chat-id rule', () => {
  it.each(DISGUISED_CHAT_IDS)('refuses a %s', (_label, id, names) => {
    expect(chatIdProblem(id)).toMatch(names);
    expect(canonicalChat(id)).toBeNull();
    expect(canonicalArg('chat', id)).toBeNull();
    expect(canonicalArgGlob('chat', id)).toMatchObject({ ok: false, error: expect.stringMatching(names) });
  });

  it.each(['tg:100', 'slack:c0123', 'slack:#general', 'local:ops', 'tg:-100123', 'mail:a.b+c@example.com', 'tg:*', 'été:caf\u00e9', 'local:\u0928\u092e\u0938\u094d\u0924\u0947'])(
    'accepts %j',
    (id) => expect(chatIdProblem(id)).toBeNull(),
  );

  it('trims ASCII spaces and tabs around the id only', () => {
    expect(canonicalChat(' \tTG:100 ')).toBe('tg:100');
    expect(canonicalChat('\u00a0tg:100')).toBeNull(); // a no-break space is no ASCII space: refused, never trimmed
    expect(chatIdProblem('   ')).toBe('is empty');
  });
});
