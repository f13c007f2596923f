// When the turn names an HTTPS endpoint (TurnInput.gated: a task on another node, no socket to mount), the runner
// serves the run socket itself, inside the container, and relays every connection to gated over Streamable HTTP with
// the run's token and exactly the turn's CA (pinnedFetch). Everything that speaks to the socket (the runner's own
// client, the claude-code harness's bridge) is unchanged; the token never leaves this process.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { SocketTransport } from '../../../core/socket-transport.js';
import type { GatedEndpoint } from '../../../core/turn.js';
import type { RunnerLog } from './log.js';
import { pinnedFetch } from './pinned-fetch.js';

/**
 * A relayed session pings gated this often, so a client that is only thinking (a model between two tool calls) is not
 * taken for an idle one: gated closes sessions silent for its idle timeout (10 minutes by default).
 */
export const KEEPALIVE_MS = 60_000;
const PING_ID = 'warren-relay-ping-';

export interface Relay {
  socketPath: string;
  close(): Promise<void>;
}

export async function startRelay(endpoint: GatedEndpoint, log: RunnerLog, keepaliveMs = KEEPALIVE_MS): Promise<Relay> {
  const dir = mkdtempSync(join(tmpdir(), 'warren-gated-')); // 0700: only this user reaches the socket
  const socketPath = join(dir, 'gated.sock');
  // Through the proxy the egress names, if any (a Swarm task's only way off its internal overlay).
  const pinned = pinnedFetch(endpoint.ca, process.env);
  const links = new Set<() => Promise<void>>();
  const server = createServer((socket) => links.add(relay(socket)));

  /** One local connection, one session of gated's; either end closing closes the other. Returns its closer. */
  const relay = (socket: Socket): (() => Promise<void>) => {
    const local = new SocketTransport(socket);
    const remote = new StreamableHTTPClientTransport(new URL(endpoint.url), {
      fetch: pinned.fetch,
      requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
    });
    let pings = 0;
    let keepalive: NodeJS.Timeout | undefined;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      links.delete(close);
      clearInterval(keepalive);
      // Ends the session at gated at once rather than leaving it to the idle reaper.
      await remote.terminateSession().catch(() => undefined);
      await remote.close().catch(() => undefined);
      await local.close();
    };
    local.onmessage = (message) => {
      remote.send(message).catch((error: unknown) => {
        log.error('gated refused a relayed message', { url: endpoint.url, err: error });
        // A request that cannot reach gated is answered here, so its caller is not left waiting.
        if ('method' in message && 'id' in message) {
          void local.send({ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: `gated at ${endpoint.url}: ${(error as Error).message}` } } as JSONRPCMessage);
        }
      });
    };
    remote.onmessage = (message) => {
      if ('id' in message && typeof message.id === 'string' && message.id.startsWith(PING_ID)) return;
      // The SDK's Client sets the negotiated version on its transport; here the relay does it for the client.
      const result = 'result' in message ? (message.result as { protocolVersion?: unknown }) : undefined;
      if (typeof result?.protocolVersion === 'string') {
        remote.setProtocolVersion(result.protocolVersion);
        keepalive ??= setInterval(() => {
          void remote.send({ jsonrpc: '2.0', id: `${PING_ID}${++pings}`, method: 'ping' }).catch(() => undefined);
        }, keepaliveMs);
        keepalive.unref();
      }
      void local.send(message);
    };
    remote.onerror = (error) => {
      if (!closed) log.warn('gated connection error', { url: endpoint.url, err: error });
    };
    local.onclose = () => void close();
    remote.onclose = () => void close();
    void remote.start().then(() => local.start());
    return close;
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    socketPath,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...links].map((close) => close()));
      await closed;
      pinned.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
