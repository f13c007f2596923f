// crackbox's settings, read from the environment with defaults (gateway/config.ts puts them in GatewayConfig.egress;
// `warren crackbox` reads them the same way). Invalid values throw at start-up: a typo never widens egress.
//
//   WARREN_EGRESS                  on (default) | off | external
//                                  on: crackbox runs inside `warren up`; off: containers get no network at all;
//                                  external: `warren crackbox` runs separately and `warren up` only checks its work
//   WARREN_EGRESS_POOL             subnet pool for tenant networks (default 10.213.0.0/16)
//   WARREN_EGRESS_PREFIX           size of each tenant network (default 26: 1024 networks of 61 containers)
//   WARREN_EGRESS_PROXY_PORT       the HTTP/CONNECT proxy's port on each gateway address (default 3128)
//   WARREN_EGRESS_DNS_PORT         the DNS port (default 53; Docker's embedded resolver always forwards to 53, so
//                                  another value only makes sense for tests)
//   WARREN_EGRESS_UPSTREAM         the resolver crackbox forwards allowed names to, a.b.c.d:port (default: the
//                                  first IPv4 nameserver in /etc/resolv.conf, port 53)
//   WARREN_EGRESS_BASE             the instance-wide base allowlist, entries separated by spaces or newlines
//                                  (default: api.anthropic.com:443, the model API)
//   WARREN_EGRESS_ALLOWED_RANGES   comma-separated IPv4 CIDRs of private/special addresses names may resolve to
//                                  (default none)
//   WARREN_EGRESS_KEEP_NETWORKS    0 (default): tenant networks are removed on a clean stop (after a crash they are
//                                  found and reused); 1: they outlive a stop too
//   WARREN_EGRESS_LOG_DAYS         how long egress log rows are kept (default 14; the log grows by one row per DNS
//                                  answer and proxy decision)
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { formatConfigError } from '../core/config-error.js';
import { parseAllowlist, type AllowlistEntry } from '../core/allowlist.js';
import { parseCidr } from './address-policy.js';
import { parseUpstream } from './dns-upstream.js';
import { poolProblem } from './subnets.js';

export type EgressMode = 'on' | 'off' | 'external';

export interface EgressConfig {
  mode: EgressMode;
  pool: string;
  prefix: number;
  proxyPort: number;
  dnsPort: number;
  /** a.b.c.d:port, or null when none is configured and none could be found (then crackbox refuses to start). */
  upstream: string | null;
  /** The base allowlist as written (for status) and parsed. */
  baseText: string;
  base: AllowlistEntry[];
  allowedRanges: string[];
  keepNetworks: boolean;
  /** Egress log rows older than this are pruned. */
  logRetentionDays: number;
}

export const EGRESS_DEFAULTS = {
  pool: '10.213.0.0/16',
  prefix: 26,
  proxyPort: 3128,
  dnsPort: 53,
  base: 'api.anthropic.com:443',
} as const;

/** The first IPv4 `nameserver` of a resolv.conf text, as host:53; null when there is none. PURE. */
export function upstreamFromResolvConf(text: string): string | null {
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIPv4(m[1]!)) return `${m[1]}:53`;
  }
  return null;
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${name} must be a port 1-65535, got "${raw}"`);
  return n;
}

/** Parses the egress settings; `resolvConf` is injectable for tests. Throws a message naming the variable. */
export function egressConfig(env: NodeJS.ProcessEnv = process.env, resolvConf: () => string = readResolvConf): EgressConfig {
  const mode = (env.WARREN_EGRESS ?? 'on') as EgressMode;
  if (!['on', 'off', 'external'].includes(mode)) {
    throw new Error(`WARREN_EGRESS must be "on", "off" or "external", got "${env.WARREN_EGRESS}"`);
  }
  const pool = env.WARREN_EGRESS_POOL || EGRESS_DEFAULTS.pool;
  const prefixRaw = env.WARREN_EGRESS_PREFIX || String(EGRESS_DEFAULTS.prefix);
  const prefix = Number(prefixRaw);
  const problem = poolProblem(pool, prefix);
  if (problem) throw new Error(`WARREN_EGRESS_POOL/WARREN_EGRESS_PREFIX: ${problem}`);

  let upstream: string | null = env.WARREN_EGRESS_UPSTREAM || null;
  if (upstream) {
    try {
      parseUpstream(upstream);
    } catch (error) {
      throw new Error(`WARREN_EGRESS_UPSTREAM: ${(error as Error).message}`);
    }
  } else if (mode !== 'off') {
    upstream = upstreamFromResolvConf(resolvConf());
  }

  const baseText = env.WARREN_EGRESS_BASE ?? EGRESS_DEFAULTS.base;
  const parsed = parseAllowlist(baseText.split(/\s+/).filter(Boolean).join('\n'), 'WARREN_EGRESS_BASE');
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map(formatConfigError).join('; '));

  const allowedRanges = (env.WARREN_EGRESS_ALLOWED_RANGES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const r of allowedRanges) {
    try {
      parseCidr(r);
    } catch (error) {
      throw new Error(`WARREN_EGRESS_ALLOWED_RANGES: ${(error as Error).message}`);
    }
  }
  const keep = env.WARREN_EGRESS_KEEP_NETWORKS ?? '0';
  if (keep !== '0' && keep !== '1') throw new Error(`WARREN_EGRESS_KEEP_NETWORKS must be 0 or 1, got "${keep}"`);

  const days = Number(env.WARREN_EGRESS_LOG_DAYS ?? 14);
  if (!Number.isInteger(days) || days < 1) throw new Error(`WARREN_EGRESS_LOG_DAYS must be a whole number >= 1, got "${env.WARREN_EGRESS_LOG_DAYS}"`);

  const proxyPort = port(env, 'WARREN_EGRESS_PROXY_PORT', EGRESS_DEFAULTS.proxyPort);
  const dnsPort = port(env, 'WARREN_EGRESS_DNS_PORT', EGRESS_DEFAULTS.dnsPort);
  if (proxyPort === dnsPort) throw new Error(`WARREN_EGRESS_PROXY_PORT and WARREN_EGRESS_DNS_PORT are both ${dnsPort}`);

  return {
    mode,
    pool,
    prefix,
    proxyPort,
    dnsPort,
    upstream,
    baseText,
    base: parsed.entries,
    allowedRanges,
    keepNetworks: keep === '1',
    logRetentionDays: days,
  };
}
