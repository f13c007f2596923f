// The runner's MCP client on gated: the SDK Client over the shared SocketTransport on the run socket, or over the SDK's
// Streamable HTTP transport when the turn names an HTTPS endpoint (TurnInput.gated: a task on another node), with
// the run's bearer token and exactly the CA the turn names. It makes the script harness's tool calls and sends the
// turn report (`warren/submit_turn`, a protocol request, not a tool).
import { connect } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { EmptyResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { SocketTransport } from '../../../core/socket-transport.js';
import {
  NEXT_TURN_METHOD,
  NEXT_TURN_WAIT_MS,
  NextTurnResultSchema,
  SUBMIT_TURN_METHOD,
  type GatedEndpoint,
  type NextTurnResult,
  type TurnResult,
} from '../../../core/turn.js';
import { pinnedFetch } from './pinned-fetch.js';
import { toolResultText, type ToolCaller, type ToolLister, type ToolOutcome, type ToolSpec } from './tool-caller.js';

export const CLIENT_INFO = { name: 'warren-runner', version: '0.1.0' };

export class GatedClient implements ToolCaller, ToolLister {
  private constructor(
    private readonly client: Client,
    private readonly onClose: () => void = () => undefined,
  ) {}

  /** Where the turn says gated is: its HTTPS endpoint when it names one, else the run socket. */
  static async forTurn(endpoint: GatedEndpoint | undefined, socketPath: string): Promise<GatedClient> {
    return endpoint ? GatedClient.connectHttp(endpoint) : GatedClient.connect(socketPath);
  }

  /** Rejects with a message naming the URL (never the token) when the endpoint cannot be reached or refuses. */
  static async connectHttp(endpoint: GatedEndpoint): Promise<GatedClient> {
    const pinned = pinnedFetch(endpoint.ca);
    const transport = new StreamableHTTPClientTransport(new URL(endpoint.url), {
      fetch: pinned.fetch,
      requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
    });
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    try {
      await client.connect(transport);
    } catch (error) {
      pinned.close();
      throw new Error(`MCP handshake with gated at ${endpoint.url} failed: ${(error as Error).message}`);
    }
    return new GatedClient(client, pinned.close);
  }

  /** Rejects with a message naming the socket when it cannot be reached or the MCP handshake fails. */
  static async connect(socketPath: string): Promise<GatedClient> {
    const socket = connect({ path: socketPath });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
    } catch (error) {
      socket.destroy();
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new Error(`cannot connect to the gated socket ${socketPath}: ${code}`);
    }
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    try {
      await client.connect(new SocketTransport(socket));
    } catch (error) {
      socket.destroy();
      throw new Error(`MCP handshake with gated on ${socketPath} failed: ${(error as Error).message}`);
    }
    return new GatedClient(client);
  }

  async call(tool: string, args: Record<string, unknown>): Promise<ToolOutcome> {
    const result = await this.client.callTool({ name: tool, arguments: args });
    return { text: toolResultText(result), isError: result.isError === true };
  }

  async list(): Promise<ToolSpec[]> {
    const { tools } = await this.client.listTools();
    return tools.map((t) => ({ name: t.name, description: t.description ?? '', inputSchema: t.inputSchema as Record<string, unknown> }));
  }

  async submit(result: TurnResult): Promise<void> {
    await this.client.request({ method: SUBMIT_TURN_METHOD, params: result }, EmptyResultSchema);
  }

  /** A coordinator's next turn, or stop; gated holds the request open until one of them (the SDK's 60 s default would cut it). */
  async nextTurn(signal?: AbortSignal): Promise<NextTurnResult> {
    return this.client.request({ method: NEXT_TURN_METHOD, params: {} }, NextTurnResultSchema, { timeout: NEXT_TURN_WAIT_MS, signal });
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
    this.onClose();
  }
}
