// How CLI commands reach a running gateway: DATA/gateway.json names its URL, DATA/operator.token authorises.
import { existsSync, readFileSync } from 'node:fs';
import { readOperatorToken } from '../operator-token.js';
import { gatewayInfoPath, type GatewayInfo } from '../warren.js';

export interface GatewayClient {
  url: string;
  token: string;
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** The running gateway, or null when none is up (no info file, or it does not answer). */
export async function findGateway(dataDir: string): Promise<GatewayClient | null> {
  const file = gatewayInfoPath(dataDir);
  if (!existsSync(file)) return null;
  let info: GatewayInfo;
  try {
    info = JSON.parse(readFileSync(file, 'utf8')) as GatewayInfo;
  } catch {
    return null;
  }
  if (!info.url) return null;
  const token = readOperatorToken(dataDir);
  const client: GatewayClient = {
    url: info.url,
    token,
    async request(method, path, body) {
      const res = await fetch(info.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
  try {
    const health = await fetch(info.url + '/v1/health', { signal: AbortSignal.timeout(2000) });
    return health.ok ? client : null;
  } catch {
    return null;
  }
}
