// One MCP protocol object per connection. Identity (tenant, run) is fixed by the socket the connection arrived on;
// nothing the client sends can change it. Tool schemas and the tools/list answer come from the shared policy.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  InitializeRequestSchema,
  ListToolsRequestSchema,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { NextTurnRequestSchema, SubmitTurnRequestSchema, type NextTurnResult, type TurnResult } from '../core/turn.js';
import type { Socket } from 'node:net';
import { SocketTransport, type ConnectionBounds, type FrameBudget } from '../core/socket-transport.js';
import type { Logger } from '../core/log.js';
import { callTool, type CallEnv } from './call.js';

export const SERVER_INFO = { name: 'warren-gated', version: '0.1.0' };

/** What a session's protocol needs, whichever way its client arrives (a unix socket or an HTTP bearer token). */
export interface ProtocolDeps {
  /** Fresh per call: the policy may have changed since the last one. */
  env(): CallEnv;
  log: Logger;
  /** Run sockets and endpoints only: receives the runner's `warren/submit_turn` report. */
  onSubmit?: (result: TurnResult) => void;
  /** Coordinator runs only: answers `warren/next_turn` (held open until there is a turn or a stop). */
  onNextTurn?: () => Promise<NextTurnResult>;
}

export interface SessionDeps extends ProtocolDeps {
  maxFrameBytes: number;
  bounds: ConnectionBounds;
  /** The socket's budget for unfinished frames, shared by all its connections (the listener's). */
  frameBudget?: FrameBudget;
}

/**
 * The MCP server of one session: tools/list, tools/call through callTool (grants, audit), and a run's protocol
 * methods. The one call path: the socket's sessions and the HTTP listener's both use it. `release` frees the
 * in-flight slot of a request the client cancelled (the SDK sends it no answer).
 */
export function protocolServer(deps: ProtocolDeps, release: (id: RequestId) => void): Server {
  const server = new Server(SERVER_INFO, { capabilities: { tools: { listChanged: true } } });
  const settled = async <T>(extra: { requestId: RequestId; signal: AbortSignal }, handler: () => T | Promise<T>): Promise<T> => {
    try {
      return await handler();
    } finally {
      if (extra.signal.aborted) release(extra.requestId);
    }
  };
  server.setRequestHandler(ListToolsRequestSchema, (_request, extra) => settled(extra, () => ({ tools: deps.env().policy?.tools ?? [] })));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    settled(extra, () => callTool(deps.env(), request.params.name, request.params.arguments ?? {})),
  );
  const onSubmit = deps.onSubmit;
  if (onSubmit) {
    server.setRequestHandler(SubmitTurnRequestSchema, (request, extra) =>
      settled(extra, () => {
        onSubmit(request.params);
        return {};
      }),
    );
  }
  const onNextTurn = deps.onNextTurn;
  if (onNextTurn) server.setRequestHandler(NextTurnRequestSchema, (_request, extra) => settled(extra, () => onNextTurn()));
  server.onerror = (error) => deps.log.debug({ err: error }, 'protocol error');
  return server;
}

/** Methods a client may call before it has sent `initialize` (MCP lifecycle: only pings may precede it). */
const BEFORE_INITIALIZE = new Set(['initialize', 'ping']);

/**
 * Whether one request may go on to the protocol, or why not. The SDK's Server checks neither rule: it runs any
 * handler before initialisation, and a second request with an id in flight replaces the first one's cancellation.
 */
export function refusalOf(
  request: { id: RequestId; method: string },
  state: { initializeSeen: boolean; inFlight: ReadonlySet<RequestId> },
): string | null {
  if (state.inFlight.has(request.id)) return `request id ${JSON.stringify(request.id)} is already in flight on this connection`;
  if (!state.initializeSeen && !BEFORE_INITIALIZE.has(request.method)) {
    return `"${request.method}" before "initialize": send initialize first`;
  }
  return null;
}

export class Session {
  readonly server: Server;
  private readonly transport: SocketTransport;
  private closed = false;
  private initializeSeen = false;
  onclose?: () => void;

  constructor(socket: Socket, deps: SessionDeps) {
    // The checks sit in the transport, before the SDK sees a request: no handler, the SDK's own included, runs first.
    this.transport = new SocketTransport(socket, {
      maxFrameBytes: deps.maxFrameBytes,
      bounds: deps.bounds,
      frameBudget: deps.frameBudget,
      admit: (request, inFlight) => {
        const refusal = refusalOf(request, { initializeSeen: this.initializeSeen, inFlight });
        // Only an initialize the SDK will accept counts: a malformed one is answered with an error and opens nothing.
        if (refusal === null && request.method === 'initialize' && InitializeRequestSchema.safeParse(request).success) {
          this.initializeSeen = true;
        }
        return refusal;
      },
      onBadFrame: (reason) => deps.log.warn({ reason }, 'bad frame refused'),
      onDrop: (reason) => deps.log.warn({ reason }, 'connection closed: it exceeded a bound'),
    });
    this.server = protocolServer(deps, (id) => this.transport.release(id));
    // The SDK does not tie the protocol's life to the socket's: do it here, both ways.
    this.server.onclose = () => this.finish();
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
