// Clients of gated's HTTPS listener for tests: the SDK's real client (through the runner's pinned fetch), and raw
// requests for what a well-behaved client never sends.
import { request } from 'node:https';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { pinnedFetch } from '../../../images/agent/runner/pinned-fetch.js';

export interface Endpoint {
  url: string;
  token: string;
  caPem: string;
}

export async function connectHttp(endpoint: Endpoint): Promise<{ client: Client; transport: StreamableHTTPClientTransport; close(): Promise<void> }> {
  const pinned = pinnedFetch(endpoint.caPem);
  const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
    fetch: pinned.fetch,
    requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
  });
  const client = new Client({ name: 'test', version: '0.0.0' });
  try {
    await client.connect(transport);
  } catch (error) {
    pinned.close();
    throw error;
  }
  return {
    client,
    transport,
    close: async () => {
      await client.close().catch(() => undefined);
      pinned.close();
    },
  };
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

/** One raw request; resolves with the status and the whole body (for an SSE answer, once the stream ends). */
export function raw(
  endpoint: { url: string; caPem: string },
  options: { method?: string; token?: string; sessionId?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; path?: string },
): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  const url = new URL(options.path ?? '', endpoint.url);
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'POST',
        ca: [endpoint.caPem],
        agent: false,
        headers: {
          accept: 'application/json, text/event-stream',
          'content-type': 'application/json',
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.sessionId ? { 'mcp-session-id': options.sessionId } : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
