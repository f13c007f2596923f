// Opening gated's HTTPS listener from its configuration: the names for its certificate, the TLS material under
// DATA/tls (tls.ts), the address it listens on, and the URL runs are given.
import { hostname } from 'node:os';
import type { Logger } from '../../core/log.js';
import { defaultSans, ensureTls, parseSans } from '../tls.js';
import { HttpListener } from './listener.js';
import { advertisedUrl, DEFAULT_HTTP_BOUNDS, parseListenAddress, type HttpBounds } from './requests.js';

export interface HttpConfig {
  /** host:port (`[v6]:port`); port 0 picks a free one (tests). */
  listen: string;
  /** The names in the server certificate, comma-separated; default: loopback, the host name, the listen address. */
  sans?: string;
  bounds?: Partial<HttpBounds>;
}

export interface OpenHttpListener {
  listener: HttpListener;
  url: string;
  caPem: string;
}

/** From the environment: off unless WARREN_GATED_HTTP is set. */
export function httpOptionsFromEnv(env: NodeJS.ProcessEnv): HttpConfig | null {
  const listen = env.WARREN_GATED_HTTP?.trim();
  if (!listen) return null;
  return { listen, sans: env.WARREN_GATED_HTTP_SANS?.trim() || undefined };
}

/** Throws (a bad address, bad names, unsafe TLS files, a port in use): the operator asked for a listener. */
export async function openHttpListener(dataDir: string, config: HttpConfig, log: Logger): Promise<OpenHttpListener> {
  const address = parseListenAddress(config.listen);
  if (!address) throw new Error('the HTTP listener needs an address (host:port)');
  const sans = config.sans ? parseSans(config.sans) : defaultSans(hostname(), address.host);
  const tls = ensureTls(dataDir, sans, log);
  const listener = new HttpListener({
    ...address,
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    bounds: { ...DEFAULT_HTTP_BOUNDS, ...config.bounds },
    log: log.child({ listener: 'http' }),
  });
  try {
    const bound = await listener.listen();
    const url = advertisedUrl(address.host, bound.port, config.sans ? sans[0]?.value : undefined);
    log.info({ url, sans: tls.sans }, 'HTTP listener open');
    return { listener, url, caPem: tls.caPem };
  } catch (error) {
    await listener.close().catch(() => undefined);
    throw error;
  }
}
