// One MCP protocol object per connection. Identity (tenant, run) is fixed by the socket the connection arrived on;
// nothing the client sends can change it. Tool schemas and the tools/list answer come from the shared policy.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { SubmitTurnRequestSchema, type TurnResult } from '../core/turn.js';
import type { Socket } from 'node:net';
import { SocketTransport } from '../core/socket-transport.js';
import type { Logger } from '../core/log.js';
import { callTool, type CallEnv } from './call.js';

export const SERVER_INFO = { name: 'warren-gated', version: '0.1.0' };

export interface SessionDeps {
  /** Fresh per call: the policy may have changed since the last one. */
  env(): CallEnv;
  log: Logger;
  maxFrameBytes: number;
  /** Run sockets only: receives the runner's `warren/submit_turn` report. */
  onSubmit?: (result: TurnResult) => void;
}

export class Session {
  readonly server: Server;
  private readonly transport: SocketTransport;
  private closed = false;
  onclose?: () => void;

  constructor(socket: Socket, deps: SessionDeps) {
    this.transport = new SocketTransport(socket, {
      maxFrameBytes: deps.maxFrameBytes,
      onBadFrame: (reason) => deps.log.warn({ reason }, 'bad frame refused'),
    });
    this.server = new Server(SERVER_INFO, { capabilities: { tools: { listChanged: true } } });
    this.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: deps.env().policy?.tools ?? [] }));
    this.server.setRequestHandler(CallToolRequestSchema, (request) =>
      callTool(deps.env(), request.params.name, request.params.arguments ?? {}),
    );
    const onSubmit = deps.onSubmit;
    if (onSubmit) {
      this.server.setRequestHandler(SubmitTurnRequestSchema, (request) => {
        onSubmit(request.params);
        return {};
      });
    }
    // The SDK does not tie the protocol's life to the socket's: do it here, both ways.
    this.server.onclose = () => this.finish();
    this.server.onerror = (error) => deps.log.debug({ err: error }, 'protocol error');
  }

  async start(): Promise<void> {
    await this.server.connect(this.transport);
  }

  /** Tells the client its tool list changed (grants edited); harmless before initialisation completes. */
  notifyToolsChanged(): void {
    if (this.closed) return;
    this.server.sendToolListChanged().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.server.close().catch(() => undefined);
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    void this.transport.close();
    this.onclose?.();
  }
}
