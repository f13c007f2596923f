// A tenant's egress allowlist file: one `[!]pattern[:ports]` entry per line. Parsing only; the decision lives in
// crackbox/egress-policy.ts. The grammar is documented in docs/egress.md — keep the two in step.
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import type { ConfigError } from './config-error.js';

export interface AllowlistEntry {
  /** The entry as written (trimmed, without comment), e.g. `*.github.com:443` or `!evil.example`. */
  text: string;
  effect: 'allow' | 'deny';
  /** exact: that name only; suffix: strict subdomains of `name` (not `name` itself); ip: that IPv4 address only. */
  kind: 'exact' | 'suffix' | 'ip';
  /** Normalised: lowercase ASCII (IDNA), no trailing dot; for `suffix` the part after `*.`; for `ip` a dotted quad. */
  name: string;
  /** Allowed ports, ascending. Allow entries without ports get DEFAULT_PORTS; deny entries are null (every port). */
  ports: number[] | null;
  file: string;
  /** 1-based line in `file`. */
  line: number;
}

export const DEFAULT_PORTS: readonly number[] = [80, 443];
export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** ASCII characters a host name may be written with; anything else ASCII (%, _, /, @, space...) is refused. */
const ASCII_NAME_CHARS = /^[a-z0-9.-]$/;
const PORT = /^[1-9][0-9]{0,4}$/;

export type HostName = { ok: true; kind: 'name' | 'ip'; name: string } | { ok: false; error: string };

/**
 * Normalises a host as an operator or a client wrote it: lowercase, one trailing dot stripped, IDNA to ASCII, LDH
 * labels of 1–63 characters, at most 253 characters; or an exact dotted-quad IPv4 literal. Anything ambiguous (a
 * name that URL parsers would read as an IP, like `127.1` or `0x7f.0.0.1`) is an error rather than a guess.
 */
export function normalizeHost(input: string): HostName {
  let s = input.toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.length === 0) return { ok: false, error: 'empty host name' };
  if (s.includes('*')) return { ok: false, error: '"*" is only allowed as a whole first label ("*.example.com")' };
  if (s.startsWith('[') || isIPv6(s)) return { ok: false, error: 'IPv6 addresses are not supported (IPv6 egress is off)' };
  if (isIPv4(s)) return { ok: true, kind: 'ip', name: s };
  for (const ch of s) {
    if (ch.charCodeAt(0) < 0x80 && !ASCII_NAME_CHARS.test(ch)) {
      return { ok: false, error: `invalid character ${JSON.stringify(ch)} in host name` };
    }
  }
  const ascii = domainToASCII(s);
  if (ascii === '') return { ok: false, error: `invalid host name "${input}" (IDNA conversion failed)` };
  if (isIPv4(ascii)) {
    return { ok: false, error: `"${input}" reads as the IP address ${ascii}; write IPv4 addresses as plain dotted quads` };
  }
  if (ascii.length > MAX_NAME_LENGTH) return { ok: false, error: `host name longer than ${MAX_NAME_LENGTH} characters` };
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label.length === 0) return { ok: false, error: `empty label in host name "${input}"` };
    if (label.length > MAX_LABEL_LENGTH) return { ok: false, error: `label longer than ${MAX_LABEL_LENGTH} characters in "${input}"` };
    if (!LDH_LABEL.test(label)) {
      return { ok: false, error: `label "${label}" must be letters, digits and inner hyphens` };
    }
  }
  // URL parsers treat a host whose last label is numeric as an IPv4 address; refuse rather than disagree with them.
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) {
    return { ok: false, error: `"${input}" ends in a number, which is not a valid host name` };
  }
  return { ok: true, kind: 'name', name: ascii };
}

function parsePorts(spec: string): { ports: number[] } | { error: string } {
  if (spec.length === 0) return { error: 'empty port list after ":"' };
  const ports = new Set<number>();
  for (const part of spec.split(',')) {
    const p = part.trim();
    if (!PORT.test(p) || Number(p) > 65535) return { error: `invalid port "${p}" (expected 1-65535)` };
    ports.add(Number(p));
  }
  return { ports: [...ports].sort((a, b) => a - b) };
}

/** Parses one entry (already stripped of comments and trimmed, non-empty). */
export function parseAllowlistEntry(text: string, file: string, line: number): AllowlistEntry | ConfigError {
  const fail = (message: string): ConfigError => ({ file, line, message: `${message}: ${text}` });
  let rest = text;
  const effect = rest.startsWith('!') ? 'deny' : 'allow';
  if (effect === 'deny') rest = rest.slice(1);
  if (/\s/.test(rest)) return fail('an entry is one pattern without spaces');
  if (rest.startsWith('[') || (rest.match(/:/g)?.length ?? 0) > 1) {
    return fail('IPv6 addresses are not supported (IPv6 egress is off)');
  }
  const colon = rest.indexOf(':');
  const pattern = colon < 0 ? rest : rest.slice(0, colon);
  let ports: number[] | null = effect === 'allow' ? [...DEFAULT_PORTS] : null;
  if (colon >= 0) {
    if (effect === 'deny') return fail('deny entries take no ports (a deny covers every port)');
    const parsed = parsePorts(rest.slice(colon + 1));
    if ('error' in parsed) return fail(parsed.error);
    ports = parsed.ports;
  }
  let kind: AllowlistEntry['kind'] = 'exact';
  let host = pattern;
  if (host.startsWith('*.')) {
    kind = 'suffix';
    host = host.slice(2);
  }
  const normal = normalizeHost(host);
  if (!normal.ok) return fail(normal.error);
  if (normal.kind === 'ip') {
    if (kind === 'suffix') return fail('"*." cannot precede an IP address');
    kind = 'ip';
  }
  return { text, effect, kind, name: normal.name, ports, file, line };
}

/** Parses a whole allowlist file. Every bad line is reported; good lines are still returned (the caller decides). */
export function parseAllowlist(text: string, file: string): { entries: AllowlistEntry[]; errors: ConfigError[] } {
  const entries: AllowlistEntry[] = [];
  const errors: ConfigError[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const body = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    if (body.length === 0) return;
    const parsed = parseAllowlistEntry(body, file, i + 1);
    if ('effect' in parsed) entries.push(parsed);
    else errors.push(parsed);
  });
  return { entries, errors };
}
