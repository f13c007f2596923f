// The HTTP listener's TLS material: what is made or reused (tlsPlan, by table) and what ensureTls does on disk.
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultSans, ensureTls, parseSans, tlsPlan, TlsError, withListenHost, type TlsState } from '../../gated/tls.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse('2026-12-01T00:00:00Z');
const wanted = parseSans('gated.internal,10.0.0.5');
const good = { sans: ['DNS:gated.internal', 'IP:10.0.0.5'], notAfterMs: NOW + 300 * DAY, signedByCa: true, matchesKey: true };

describe('tlsPlan', () => {
  const cases: Array<[string, TlsState, ReturnType<typeof tlsPlan>]> = [
    ['first start: a new CA and a server certificate', { caKey: false, caCert: false, server: null }, { ok: true, ca: 'create', server: { issue: 'a new CA' } }],
    ['everything fits: reused', { caKey: true, caCert: true, server: good }, { ok: true, ca: 'reuse', server: 'reuse' }],
    ['names in another order still fit', { caKey: true, caCert: true, server: { ...good, sans: ['IP:10.0.0.5', 'DNS:gated.internal'] } }, { ok: true, ca: 'reuse', server: 'reuse' }],
    ['names changed: reissued under the same CA', { caKey: true, caCert: true, server: { ...good, sans: ['DNS:gated.internal'] } }, { ok: true, ca: 'reuse', server: { issue: 'the names changed (now DNS:gated.internal, IP:10.0.0.5)' } }],
    ['close to expiry: reissued', { caKey: true, caCert: true, server: { ...good, notAfterMs: NOW + 10 * DAY } }, { ok: true, ca: 'reuse', server: { issue: 'the server certificate expires within 30 days' } }],
    ['not the CA\'s: reissued', { caKey: true, caCert: true, server: { ...good, signedByCa: false } }, { ok: true, ca: 'reuse', server: { issue: 'the server certificate is not signed by the CA' } }],
    ['key of another certificate: reissued', { caKey: true, caCert: true, server: { ...good, matchesKey: false } }, { ok: true, ca: 'reuse', server: { issue: 'the server key does not match its certificate' } }],
    ['no server certificate: issued', { caKey: true, caCert: true, server: null }, { ok: true, ca: 'reuse', server: { issue: 'no server certificate' } }],
  ];
  it.each(cases)('%s', (_name, state, plan) => {
    expect(tlsPlan(state, wanted, NOW)).toEqual(plan);
  });

  it('refuses a CA with one of its two files missing: a new CA would silently replace a trusted one', () => {
    for (const state of [{ caKey: true, caCert: false, server: null }, { caKey: false, caCert: true, server: good }]) {
      const plan = tlsPlan(state, wanted, NOW);
      expect(plan.ok).toBe(false);
      expect(!plan.ok && plan.reason).toMatch(/the CA is incomplete: ca\.(key|crt) is missing/);
    }
  });
});

describe('names', () => {
  it('parses names and addresses, and names what is neither', () => {
    expect(parseSans(' a.example , 10.1.2.3,::1,A.example')).toEqual([
      { kind: 'dns', value: 'a.example' },
      { kind: 'ip', value: '10.1.2.3' },
      { kind: 'ip', value: '::1' },
    ]);
    expect(() => parseSans('ok.example,bad name')).toThrow(/"bad name" is neither a host name nor an IP address/);
    expect(() => parseSans(' , ')).toThrow(/names no host name or address/);
  });

  it('adds a specific listen address to configured names, never a wildcard', () => {
    expect(withListenHost(parseSans('gated.internal'), '10.0.0.7').map((s) => s.value)).toEqual(['gated.internal', '10.0.0.7']);
    expect(withListenHost(parseSans('gated.internal,10.0.0.7'), '10.0.0.7').map((s) => s.value)).toEqual(['gated.internal', '10.0.0.7']);
    expect(withListenHost(parseSans('gated.internal'), '0.0.0.0').map((s) => s.value)).toEqual(['gated.internal']);
  });

  it('refuses a listen host that is neither a name nor an address: it would write more names into the certificate', () => {
    // The extension file lists names comma-separated: "a,DNS:b" would certify b as well.
    expect(() => withListenHost(parseSans('gated.internal'), 'gated.internal,DNS:evil.example')).toThrow(TlsError);
    expect(() => withListenHost(parseSans('gated.internal'), 'bad\nsubjectAltName=DNS:evil.example')).toThrow(/WARREN_GATED_HTTP/);
  });

  it('defaults to loopback, the host name and a specific listen address, never a wildcard', () => {
    expect(defaultSans('node-1', '0.0.0.0').map((s) => s.value)).toEqual(['localhost', '127.0.0.1', '::1', 'node-1']);
    expect(defaultSans('node-1', '10.0.0.7').map((s) => s.value)).toEqual(['localhost', '127.0.0.1', '::1', 'node-1', '10.0.0.7']);
  });
});

describe('ensureTls', () => {
  let data: string;
  afterEach(() => rmSync(data, { recursive: true, force: true }));

  it('makes a CA and a server certificate signed by it, keys 0600 in a 0700 folder, and reuses them on restart', () => {
    data = mkdtempSync(join(tmpdir(), 'warren-tls-'));
    const first = ensureTls(data, wanted);
    expect(statSync(join(data, 'tls')).mode & 0o777).toBe(0o700);
    for (const key of ['ca.key', 'server.key']) expect(statSync(join(data, 'tls', key)).mode & 0o777).toBe(0o600);
    const ca = new X509Certificate(first.caPem);
    const cert = new X509Certificate(first.certPem);
    expect(ca.ca).toBe(true);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:gated.internal, IP Address:10.0.0.5');
    const again = ensureTls(data, wanted);
    expect(again).toEqual(first);
  });

  it('reissues the server certificate for new names under the same CA', () => {
    data = mkdtempSync(join(tmpdir(), 'warren-tls-'));
    const first = ensureTls(data, wanted);
    const next = ensureTls(data, parseSans('other.internal'));
    expect(next.caPem).toBe(first.caPem);
    expect(next.certPem).not.toBe(first.certPem);
    expect(new X509Certificate(next.certPem).subjectAltName).toBe('DNS:other.internal');
  });

  it('refuses a loose key and a half-removed CA, and makes nothing new', () => {
    data = mkdtempSync(join(tmpdir(), 'warren-tls-'));
    ensureTls(data, wanted);
    const caKey = join(data, 'tls', 'ca.key');
    chmodSync(caKey, 0o644);
    expect(() => ensureTls(data, wanted)).toThrow(/ca\.key has mode 644: group\/other may not have any access/);
    chmodSync(caKey, 0o600);
    const caCert = readFileSync(join(data, 'tls', 'ca.crt'), 'utf8');
    unlinkSync(join(data, 'tls', 'ca.crt'));
    expect(() => ensureTls(data, wanted)).toThrow(TlsError);
    expect(() => ensureTls(data, wanted)).toThrow(/the CA is incomplete: ca\.crt is missing/);
    writeFileSync(join(data, 'tls', 'ca.crt'), caCert);
    expect(ensureTls(data, wanted).caPem).toBe(caCert);
  });
});
