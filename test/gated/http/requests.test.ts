// The HTTP listener's decisions before anything runs: who a request is (the token alone) and which session it reaches.
import { describe, expect, it } from 'vitest';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import {
  advertisedUrl,
  checkRequest,
  newRunToken,
  parseListenAddress,
  presentedTokenHash,
  sessionRoute,
  tokenHash,
} from '../../../gated/http/requests.js';

const { token, hash } = newRunToken();
const live = (h: string) => h === hash;
const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'c', version: '1' } } };

describe('run tokens', () => {
  it('are wgr_ and 43 base64url characters, kept by their SHA-256 only', () => {
    expect(token).toMatch(/^wgr_[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(tokenHash(token));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(newRunToken().token).not.toBe(token);
  });

  it.each([
    [`Bearer ${token}`, hash],
    [`bearer ${token}`, null],
    [token, null],
    [`Bearer ${token} `, null],
    [`Bearer ${token}x`, null],
    ['Bearer wgr_short', null],
    [undefined, null],
  ])('Authorization %j presents %s', (header, expected) => {
    expect(presentedTokenHash(header)).toBe(expected);
  });
});

describe('checkRequest', () => {
  it.each([
    ['no token', { method: 'POST', path: '/mcp', authorization: undefined }, 401],
    ['an unknown token', { method: 'POST', path: '/mcp', authorization: `Bearer ${newRunToken().token}` }, 401],
    ['an unknown token on another path: still 401, nothing is revealed', { method: 'GET', path: '/other', authorization: undefined }, 401],
    ['a live token on another path', { method: 'POST', path: '/other', authorization: `Bearer ${token}` }, 404],
    ['a live token, another method', { method: 'PUT', path: '/mcp', authorization: `Bearer ${token}` }, 405],
  ])('%s: %s', (_name, request, status) => {
    const checked = checkRequest(request, live);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.refusal.status).toBe(status);
  });

  it('lets a live token through on /mcp with POST, GET and DELETE', () => {
    for (const method of ['POST', 'GET', 'DELETE']) {
      expect(checkRequest({ method, path: '/mcp', authorization: `Bearer ${token}` }, live)).toEqual({ ok: true, tokenHash: hash });
    }
  });
});

describe('sessionRoute', () => {
  const base = { method: 'POST', sessionId: undefined, body: initialize, ownSession: (id: string) => id === 'mine', sessionsOfToken: 0, maxSessionsPerToken: 2 };
  it.each([
    ['initialize without a session opens one', base, { kind: 'open' }],
    ["one of the token's own sessions", { ...base, sessionId: 'mine', body: { jsonrpc: '2.0', id: 2, method: 'tools/list' } }, { kind: 'existing', sessionId: 'mine' }],
    ["another token's session is not found", { ...base, sessionId: 'theirs' }, 404],
    ['a call before initialize', { ...base, body: { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami' } } }, 400],
    ['a ping before initialize', { ...base, body: { jsonrpc: '2.0', id: 2, method: 'ping' } }, 400],
    ['a malformed initialize', { ...base, body: { jsonrpc: '2.0', id: 2, method: 'initialize', params: {} } }, 400],
    ['initialize in a batch', { ...base, body: [initialize] }, 400],
    ['a GET without a session', { ...base, method: 'GET', body: undefined }, 400],
    ['initialize when the token has its sessions already', { ...base, sessionsOfToken: 2 }, 429],
  ])('%s', (_name, request, expected) => {
    const route = sessionRoute(request);
    if (typeof expected === 'number') expect(route.kind === 'refuse' && route.refusal.status).toBe(expected);
    else expect(route).toEqual(expected);
  });
});

describe('the listen address', () => {
  it.each([
    ['', null],
    ['0.0.0.0:7443', { host: '0.0.0.0', port: 7443 }],
    ['gated.internal:443', { host: 'gated.internal', port: 443 }],
    ['[::]:7443', { host: '::', port: 7443 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
  ])('%j', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it.each(['7443', 'host', 'host:99999', '::1:7443', '[nothost]:1'])('refuses %j with the expected form', (text) => {
    expect(() => parseListenAddress(text)).toThrow(/WARREN_GATED_HTTP=.*expected host:port|is not an IPv6 address/);
  });

  it('advertises the listen host, or for a wildcard the first configured name', () => {
    expect(advertisedUrl('10.0.0.5', 7443, undefined)).toBe('https://10.0.0.5:7443/mcp');
    expect(advertisedUrl('0.0.0.0', 7443, 'gated.internal')).toBe('https://gated.internal:7443/mcp');
    expect(advertisedUrl('::', 7443, 'fd00::1')).toBe('https://[fd00::1]:7443/mcp');
    expect(advertisedUrl('0.0.0.0', 7443, undefined)).toBe('https://localhost:7443/mcp');
  });
});
