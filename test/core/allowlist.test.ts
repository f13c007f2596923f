import { describe, it, expect } from 'vitest';
import { normalizeHost, parseAllowlist, parseAllowlistEntry, type AllowlistEntry } from '../../core/allowlist.js';

const FILE = '/t/acme/allowlist';

function one(text: string): AllowlistEntry {
  const r = parseAllowlistEntry(text, FILE, 7);
  if (!('effect' in r)) throw new Error(`expected an entry, got: ${r.message}`);
  return r;
}

function err(text: string): string {
  const r = parseAllowlistEntry(text, FILE, 7);
  if ('effect' in r) throw new Error(`expected an error for ${text}`);
  expect(r.file).toBe(FILE);
  expect(r.line).toBe(7);
  return r.message;
}

describe('parseAllowlistEntry: valid entries', () => {
  it.each([
    ['api.github.com', 'allow', 'exact', 'api.github.com', [80, 443]],
    ['API.GitHub.COM.', 'allow', 'exact', 'api.github.com', [80, 443]],
    ['*.example.com', 'allow', 'suffix', 'example.com', [80, 443]],
    ['*.example.com:443', 'allow', 'suffix', 'example.com', [443]],
    ['example.com:443,80,443', 'allow', 'exact', 'example.com', [80, 443]],
    ['example.com:8443', 'allow', 'exact', 'example.com', [8443]],
    ['example.com:1,65535', 'allow', 'exact', 'example.com', [1, 65535]],
    ['93.184.216.34', 'allow', 'ip', '93.184.216.34', [80, 443]],
    ['93.184.216.34:22', 'allow', 'ip', '93.184.216.34', [22]],
    ['!evil.example', 'deny', 'exact', 'evil.example', null],
    ['!*.evil.example', 'deny', 'suffix', 'evil.example', null],
    ['!10.0.0.1', 'deny', 'ip', '10.0.0.1', null],
    ['bücher.de', 'allow', 'exact', 'xn--bcher-kva.de', [80, 443]],
    ['ａｐｉ.example.com', 'allow', 'exact', 'api.example.com', [80, 443]],
    ['localhost', 'allow', 'exact', 'localhost', [80, 443]],
    ['a-b.x1.example', 'allow', 'exact', 'a-b.x1.example', [80, 443]],
  ] as const)('%s', (text, effect, kind, name, ports) => {
    const e = one(text);
    expect(e).toEqual({ text, effect, kind, name, ports: ports === null ? null : [...ports], file: FILE, line: 7 });
  });

  it('accepts labels of exactly 63 and names of exactly 253 characters', () => {
    const l63 = 'a'.repeat(63);
    expect(one(`${l63}.com`).name).toBe(`${l63}.com`);
    const name253 = [l63, l63, l63, 'a'.repeat(61)].join('.');
    expect(name253.length).toBe(253);
    expect(one(name253).name).toBe(name253);
  });
});

describe('parseAllowlistEntry: errors', () => {
  it.each([
    ['::1', /IPv6/],
    ['[2001:db8::1]:443', /IPv6/],
    ['2001:db8::1', /IPv6/],
    ['!fe80::1', /IPv6/],
    ['*', /"\*"/],
    ['*example.com', /"\*"/],
    ['api.*.example.com', /"\*"/],
    ['*.*.example.com', /"\*"/],
    ['example.*', /"\*"/],
    ['*.1.2.3.4', /cannot precede an IP/],
    ['!evil.example:443', /deny entries take no ports/],
    ['example.com:', /empty port list/],
    ['example.com:0', /invalid port/],
    ['example.com:65536', /invalid port/],
    ['example.com:08', /invalid port/],
    ['example.com:80,', /invalid port/],
    ['example.com:http', /invalid port/],
    ['example.com:-1', /invalid port/],
    ['exa mple.com', /without spaces/],
    ['a..b.com', /empty label/],
    ['.a.com', /empty label/],
    ['-a.com', /label "-a"/],
    ['a-.com', /label "a-"/],
    ['a_b.com', /invalid character "_"/],
    ['a%2eb.com', /invalid character "%"/],
    ['user@example.com', /invalid character "@"/],
    ['example.com/path', /invalid character "\/"/],
    ['127.1', /reads as the IP address 127\.0\.0\.1/],
    ['0x7f.0.0.1', /reads as the IP address/],
    ['1.2.3.04', /reads as the IP address/],
    ['１.2.3.4', /reads as the IP address/],
    ['example.123', /number|IDNA/],
    ['xn--zz.com', /IDNA/],
    [`${'a'.repeat(64)}.com`, /label longer than 63/],
    [[ 'a'.repeat(63), 'a'.repeat(63), 'a'.repeat(63), 'a'.repeat(62)].join('.'), /longer than 253/],
    ['!', /empty host name/],
    [':443', /empty host name/],
  ])('%s', (text, pattern) => {
    expect(err(text)).toMatch(pattern);
  });

  it('quotes the entry in the message', () => {
    expect(err('!evil.example:443')).toContain('!evil.example:443');
  });
});

describe('parseAllowlist', () => {
  it('handles comments, blank lines, CRLF and a BOM, reporting errors with their line', () => {
    const text = [
      '\uFEFF# egress for acme',
      '',
      'api.github.com   # the API',
      '   *.npmjs.org:443',
      '!bad.npmjs.org',
      'not a host',
      '::1',
      '#*.ignored.example',
      '1.2.3.4:22 # ssh',
    ].join('\r\n');
    const { entries, errors } = parseAllowlist(text, FILE);
    expect(entries.map((e) => [e.line, e.text, e.kind])).toEqual([
      [3, 'api.github.com', 'exact'],
      [4, '*.npmjs.org:443', 'suffix'],
      [5, '!bad.npmjs.org', 'exact'],
      [9, '1.2.3.4:22', 'ip'],
    ]);
    expect(errors.map((e) => [e.file, e.line])).toEqual([
      [FILE, 6],
      [FILE, 7],
    ]);
  });

  it('returns nothing for an empty file', () => {
    expect(parseAllowlist('', FILE)).toEqual({ entries: [], errors: [] });
    expect(parseAllowlist('\n# only comments\n\n', FILE)).toEqual({ entries: [], errors: [] });
  });
});

describe('normalizeHost', () => {
  it.each([
    ['Example.COM.', { ok: true, kind: 'name', name: 'example.com' }],
    ['10.0.0.1', { ok: true, kind: 'ip', name: '10.0.0.1' }],
    ['', { ok: false }],
    ['.', { ok: false }],
    ['example.com..', { ok: false }],
    ['_dmarc.example.com', { ok: false }],
    ['*.example.com', { ok: false }],
  ] as const)('%s', (input, expected) => {
    expect(normalizeHost(input)).toMatchObject(expected);
  });
});
