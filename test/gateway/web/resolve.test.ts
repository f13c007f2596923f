import { describe, expect, it } from 'vitest';
import { contentType, hostName, parseRange, resolveSitePath, routeSite, type SiteTable } from '../../../gateway/web/resolve.js';

describe('resolveSitePath', () => {
  it.each([
    ['/', { ok: true, segments: [], directory: true }],
    ['/index.html', { ok: true, segments: ['index.html'], directory: false }],
    ['/reports/q1.pdf', { ok: true, segments: ['reports', 'q1.pdf'], directory: false }],
    ['/reports/', { ok: true, segments: ['reports'], directory: true }],
    ['/a%20b.txt', { ok: true, segments: ['a b.txt'], directory: false }],
  ])('serves %s', (path, expected) => {
    expect(resolveSitePath(path)).toEqual(expected);
  });

  it.each([
    ['/../secret', 404],
    ['/a/../../x', 404],
    ['/%2e%2e/x', 404],
    ['/a/%2e%2e/%2e%2e/x', 404],
    ['/.env', 404],
    ['/.git/config', 404],
    ['/a/.hidden/x', 404],
    ['/./x', 404],
    ['/a%2f..%2f..%2fx', 404],
    ['/a%5c..%5cx', 404],
    ['/a%00b', 404],
    ['/a//b', 404],
    ['/%zz', 400],
    ['relative', 400],
  ])('refuses %s with %i', (path, status) => {
    const d = resolveSitePath(path);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.status).toBe(status);
  });
});

describe('routeSite', () => {
  const table: SiteTable = {
    vhost: (h) => ({ 'reports.acme.example': 'acme', 'quiet.example': 'quiet' } as Record<string, string>)[h],
    publishes: (t) => ['acme', 'acme/support'].includes(t),
  };
  it.each([
    ['reports.acme.example', '/x.html', { ok: true, tenant: 'acme', path: '/x.html' }],
    ['Reports.ACME.example:7381', '/', { ok: true, tenant: 'acme', path: '/' }],
    ['127.0.0.1:7381', '/t/acme/', { ok: true, tenant: 'acme', path: '/' }],
    ['127.0.0.1:7381', '/t/acme/support/a.txt', { ok: true, tenant: 'acme/support', path: '/a.txt' }],
    ['127.0.0.1:7381', '/t/acme/other/a.txt', { ok: true, tenant: 'acme', path: '/other/a.txt' }],
  ])('%s %s', (host, path, expected) => {
    expect(routeSite(host, path, table)).toEqual(expected);
  });
  it.each([
    ['quiet.example', '/'], // mapped, but the tenant does not publish
    ['127.0.0.1', '/'],
    ['127.0.0.1', '/t/nobody/x'],
    ['127.0.0.1', '/t/acme'],
    [undefined, '/t/../acme/x'],
  ])('refuses %s %s', (host, path) => {
    expect(routeSite(host, path, table).ok).toBe(false);
  });
});

describe('hostName', () => {
  it.each([
    ['a.example', 'a.example'],
    ['A.Example.:80', 'a.example'],
    ['[::1]:7381', '[::1]'],
    ['bad host', null],
    [undefined, null],
  ])('%s -> %s', (header, name) => expect(hostName(header)).toBe(name));
});

describe('parseRange', () => {
  it.each([
    [undefined, null],
    ['bytes=0-9', { start: 0, end: 9 }],
    ['bytes=90-', { start: 90, end: 99 }],
    ['bytes=-10', { start: 90, end: 99 }],
    ['bytes=50-500', { start: 50, end: 99 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=9-3', 'unsatisfiable'],
    ['bytes=0-1,5-6', null],
    ['items=0-1', null],
  ])('%s of 100 bytes', (header, expected) => expect(parseRange(header, 100)).toEqual(expected));
});

describe('contentType', () => {
  it.each([
    ['index.html', 'text/html; charset=utf-8'],
    ['app.JS', 'text/javascript; charset=utf-8'],
    ['report.pdf', 'application/pdf'],
    ['data.bin', 'application/octet-stream'],
    ['Makefile', 'application/octet-stream'],
  ])('%s', (name, type) => expect(contentType(name)).toBe(type));
});
