// The TLS material of gated's HTTP listener, under DATA/tls/ (0700, gated's own): a CA (ca.key, ca.crt) that runs pin,
// and a server key and certificate it signs (server.key, server.crt) for the names runs reach gated by. The CA is made
// once and never replaced behind an installation's back; the server certificate is cheap and is reissued whenever it
// no longer fits (names changed, close to expiry, not the CA's). Which of those applies is decided by `tlsPlan`
// (pure); `ensureTls` does the files and the `openssl` CLI.
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate, createPrivateKey } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import { keyFilePermissionProblem } from '../core/secrets/keyring.js';

export const TLS_DIR = 'tls';
export const TLS_FILES = { caKey: 'ca.key', caCert: 'ca.crt', serverKey: 'server.key', serverCert: 'server.crt' } as const;
const CA_DAYS = 3650;
const SERVER_DAYS = 397;
/** A server certificate this close to its end is reissued at start. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export class TlsError extends Error {}

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** The names the server certificate carries. */
  sans: string[];
}

/** A subject alternative name: a DNS name or an IP address (v4 or v6). */
export type San = { kind: 'dns' | 'ip'; value: string };

const DNS_NAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `WARREN_GATED_HTTP_SANS`: comma-separated names and addresses; anything else is an error naming the entry. */
export function parseSans(text: string): San[] {
  const sans: San[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (isIP(entry)) sans.push({ kind: 'ip', value: entry });
    else if (DNS_NAME.test(entry)) sans.push({ kind: 'dns', value: entry.toLowerCase() });
    else throw new TlsError(`WARREN_GATED_HTTP_SANS: "${entry}" is neither a host name nor an IP address`);
  }
  if (sans.length === 0) throw new TlsError('WARREN_GATED_HTTP_SANS names no host name or address');
  return dedupe(sans);
}

/**
 * The names a run may reach gated by when the operator names none: loopback, the host's name, and the listen
 * address itself when it is a specific one (a wildcard is no name; cluster addresses need WARREN_GATED_HTTP_SANS).
 */
export function defaultSans(host: string, listenHost: string): San[] {
  const sans: San[] = [{ kind: 'dns', value: 'localhost' }, { kind: 'ip', value: '127.0.0.1' }, { kind: 'ip', value: '::1' }];
  if (DNS_NAME.test(host)) sans.push({ kind: 'dns', value: host.toLowerCase() });
  return withListenHost(sans, listenHost);
}

/** The configured names, and the listen address when it is a specific one: the URL runs get must be in the certificate. */
export function withListenHost(sans: San[], listenHost: string): San[] {
  if (listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '') return dedupe(sans);
  // Held to the same rule as a configured name: anything else would be written into the certificate's extension file.
  if (!isIP(listenHost) && !DNS_NAME.test(listenHost)) throw new TlsError(`WARREN_GATED_HTTP: "${listenHost}" is neither a host name nor an IP address`);
  return dedupe([...sans, isIP(listenHost) ? { kind: 'ip', value: listenHost } : { kind: 'dns', value: listenHost.toLowerCase() }]);
}

function dedupe(sans: San[]): San[] {
  const seen = new Set<string>();
  return sans.filter((s) => !seen.has(sanText(s)) && seen.add(sanText(s)));
}

/** As openssl's config and Node's X509Certificate.subjectAltName write it: `DNS:name` / `IP Address:addr`. */
export function sanText(san: San): string {
  return san.kind === 'dns' ? `DNS:${san.value}` : `IP:${san.value}`;
}

/** What is on disk, as far as the plan needs to know. */
export interface TlsState {
  caKey: boolean;
  caCert: boolean;
  /** The server certificate and key, when both exist and parse. */
  server: { sans: string[]; notAfterMs: number; signedByCa: boolean; matchesKey: boolean } | null;
}

export type TlsPlan =
  | { ok: true; ca: 'create' | 'reuse'; server: 'reuse' | { issue: string } }
  | { ok: false; reason: string };

/** What to create or reuse. Pure. A CA half there is refused: making a new one would silently replace a trusted CA. */
export function tlsPlan(state: TlsState, wanted: San[], nowMs: number): TlsPlan {
  if (state.caKey !== state.caCert) {
    const missing = state.caKey ? TLS_FILES.caCert : TLS_FILES.caKey;
    return { ok: false, reason: `the CA is incomplete: ${missing} is missing. Restore it, or remove both CA files to make a new CA (runs started before then will not trust it)` };
  }
  if (!state.caKey) return { ok: true, ca: 'create', server: { issue: 'a new CA' } };
  const s = state.server;
  const want = wanted.map(sanText).sort();
  let issue: string | null = null;
  if (!s) issue = 'no server certificate';
  else if (!s.signedByCa) issue = 'the server certificate is not signed by the CA';
  else if (!s.matchesKey) issue = 'the server key does not match its certificate';
  else if (s.notAfterMs - nowMs < RENEW_BEFORE_MS) issue = 'the server certificate expires within 30 days';
  else if (s.sans.slice().sort().join(',') !== want.join(',')) issue = `the names changed (now ${want.join(', ')})`;
  return { ok: true, ca: 'reuse', server: issue ? { issue } : 'reuse' };
}

/** The names in a certificate, in sanText's form (Node writes `IP Address:`; IPv6 in its expanded form is kept). */
function certSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .filter((e) => e !== '')
    .map((e) => e.replace(/^IP Address:/, 'IP:'))
    .map((e) => (e.startsWith('IP:') ? `IP:${normaliseIp(e.slice(3))}` : e));
}

/** One spelling per address, so `::1` on the wire and `0:0:0:0:0:0:0:1` in a certificate compare equal. */
function normaliseIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

function normaliseSan(san: San): San {
  return san.kind === 'ip' ? { kind: 'ip', value: normaliseIp(san.value) } : san;
}

/**
 * DATA/tls/ ready for the listener: a folder of our own (0700), the CA reused (or made on first use), the server
 * certificate reused or reissued for `sans`. Throws TlsError naming the file for anything unsafe or unreadable.
 */
export function ensureTls(dataDir: string, sansWanted: San[], log?: Logger): TlsMaterial {
  const dir = join(dataDir, TLS_DIR);
  privateDir(dir);
  const sans = sansWanted.map(normaliseSan);
  const path = (name: keyof typeof TLS_FILES) => join(dir, TLS_FILES[name]);
  const caKeyPem = readPrivate(path('caKey'));
  const caCertPem = readPrivate(path('caCert'), false);
  const server = serverState(caCertPem, readPrivate(path('serverCert'), false), readPrivate(path('serverKey')));
  const plan = tlsPlan({ caKey: caKeyPem !== null, caCert: caCertPem !== null, server }, sans, Date.now());
  if (!plan.ok) throw new TlsError(`${dir}: ${plan.reason}`);
  if (plan.ca === 'create') {
    makeCa(dir);
    log?.info({ dir }, 'created the CA of the HTTP listener');
  }
  if (plan.server !== 'reuse') {
    issueServer(dir, sans);
    log?.info({ dir, sans: sans.map(sanText), why: plan.server.issue }, 'issued the server certificate of the HTTP listener');
  }
  return {
    caPem: readPrivate(path('caCert'), false)!,
    certPem: readPrivate(path('serverCert'), false)!,
    keyPem: readPrivate(path('serverKey'))!,
    sans: sans.map(sanText),
  };
}

function serverState(caPem: string | null, certPem: string | null, keyPem: string | null): TlsState['server'] {
  if (!certPem || !keyPem) return null;
  try {
    const cert = new X509Certificate(certPem);
    let signedByCa = false;
    if (caPem) {
      const ca = new X509Certificate(caPem);
      signedByCa = cert.checkIssued(ca) && cert.verify(ca.publicKey);
    }
    return {
      sans: certSans(cert),
      notAfterMs: Date.parse(cert.validTo),
      signedByCa,
      matchesKey: cert.checkPrivateKey(createPrivateKey(keyPem)),
    };
  } catch {
    return null; // unparsable: reissued
  }
}

/** A real folder owned by us, group and other bits taken away; a symlink or another uid's folder is refused. */
function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new TlsError(`${dir} is not a folder (a symbolic link or a file is refused)`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw new TlsError(`${dir} is owned by uid ${st.uid}, not by the user running warren (uid ${uid})`);
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/** A file's text, or null when it does not exist; a key (`secret`) that is loose, foreign or not a file is refused. */
function readPrivate(file: string, secret = true): string | null {
  let st;
  try {
    st = lstatSync(file);
  } catch {
    return null;
  }
  if (!st.isFile()) throw new TlsError(`${file} is not a regular file`);
  if (secret) {
    const problem = keyFilePermissionProblem(file, st, process.getuid?.());
    if (problem) throw new TlsError(problem);
  }
  return readFileSync(file, 'utf8');
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new TlsError(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
  }
}

/** Files are made in a fresh folder beside the real ones and renamed in, keys 0600 before they move. */
function staged(dir: string, make: (work: string) => Array<keyof typeof TLS_FILES>): void {
  const work = mkdtempSync(join(dir, '.new-'));
  try {
    const made = make(work);
    for (const name of made) {
      if (name.endsWith('Key')) chmodSync(join(work, TLS_FILES[name]), 0o600);
      else chmodSync(join(work, TLS_FILES[name]), 0o644);
    }
    // Keys first: a crash between two renames leaves a CA with its key, never a certificate without one.
    for (const name of [...made.filter((n) => n.endsWith('Key')), ...made.filter((n) => !n.endsWith('Key'))]) renameSync(join(work, TLS_FILES[name]), join(dir, TLS_FILES[name]));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string): void {
  staged(dir, (work) => {
    openssl(
      ['req', '-x509', ...EC_KEY, '-keyout', TLS_FILES.caKey, '-out', TLS_FILES.caCert, '-days', String(CA_DAYS),
        '-subj', `/CN=warren gated CA ${hostname().slice(0, 32)}`,
        '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      work,
    );
    return ['caKey', 'caCert'];
  });
}

function issueServer(dir: string, sans: San[]): void {
  staged(dir, (work) => {
    writeFileSync(
      join(work, 'ext.cnf'),
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans.map(sanText).join(',')}\n`,
    );
    openssl(['req', '-new', ...EC_KEY, '-keyout', TLS_FILES.serverKey, '-out', 'server.csr', '-subj', '/CN=warren gated'], work);
    openssl(
      ['x509', '-req', '-in', 'server.csr', '-CA', join(dir, TLS_FILES.caCert), '-CAkey', join(dir, TLS_FILES.caKey),
        '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', String(SERVER_DAYS), '-extfile', 'ext.cnf', '-out', TLS_FILES.serverCert],
      work,
    );
    return ['serverKey', 'serverCert'];
  });
}
