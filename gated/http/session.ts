// One MCP session over Streamable HTTP: the SDK's transport with the same protocol server a socket connection gets
// (protocolServer: the one call path), plus what the SDK does not bound: requests in flight, duplicate ids, and a
// client that goes away with a call open. Its identity is the run token that opened it, fixed by the listener.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import { protocolServer, refusalOf, type ProtocolDeps } from '../session.js';

export class HttpSession {
  private readonly transport: StreamableHTTPServerTransport;
  private readonly server: Server;
  private readonly inFlight = new Set<RequestId>();
  private closed = false;
  /** When a request last arrived or was answered: the idle reaper's clock. */
  lastActive = Date.now();
  onclose?: () => void;

  constructor(
    deps: ProtocolDeps,
    private readonly options: { maxInFlight: number; log: Logger; onInitialized: (sessionId: string) => void },
  ) {
    this.transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => options.onInitialized(id),
    });
    // Every answer passes here on its way out: it frees its request's slot.
    const send = this.transport.send.bind(this.transport);
    this.transport.send = async (message: JSONRPCMessage, sendOptions?: { relatedRequestId?: RequestId }) => {
      const answered = responseId(message);
      if (answered !== undefined) this.inFlight.delete(answered);
      this.lastActive = Date.now();
      return send(message, sendOptions);
    };
    this.server = protocolServer(deps, (id) => this.inFlight.delete(id));
    this.server.onclose = () => this.finish();
  }

  async start(): Promise<void> {
    await this.server.connect(this.transport);
  }

  get id(): string | undefined {
    return this.transport.sessionId;
  }

  /** True while a request is unanswered: a long call (or a coordinator's next_turn) is not idleness. */
  get busy(): boolean {
    return this.inFlight.size > 0;
  }

  get requestsInFlight(): number {
    return this.inFlight.size;
  }

  /** Hands one authorised request (its body already read and parsed) to the SDK, unless a bound refuses it. */
  async handle(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    this.lastActive = Date.now();
    const requests = (Array.isArray(body) ? body : body === undefined ? [] : [body]).filter(isRequest);
    const seen = new Set(this.inFlight);
    for (const request of requests) {
      const refusal =
        this.inFlight.size + requests.length > this.options.maxInFlight
          ? `more than ${this.options.maxInFlight} requests in flight on this session`
          : refusalOf(request, { initializeSeen: true, inFlight: seen });
      if (refusal !== null) {
        this.options.log.warn({ reason: refusal }, 'request refused');
        answerError(res, 400, request.id, -32600, refusal);
        return;
      }
      seen.add(request.id);
    }
    for (const request of requests) this.inFlight.add(request.id);
    if (requests.length > 0) {
      // The answers travel on this response: a client gone before they did is gone, and so is its session (as a
      // socket's connection is), which ends its handlers and frees every slot it held.
      res.once('close', () => {
        if (res.writableFinished || this.closed) return;
        this.options.log.info({ session: this.id }, 'client went away with requests in flight; session closed');
        void this.close();
      });
    }
    // A request the SDK refuses itself (a 4xx) gets no answer through send(), which would have freed its slot.
    res.once('finish', () => {
      if (res.statusCode >= 400) for (const request of requests) this.inFlight.delete(request.id);
    });
    try {
      await this.transport.handleRequest(req, res, body);
    } catch (error) {
      this.options.log.warn({ err: error }, 'request failed');
      answerError(res, 500, null, -32603, 'internal error (see the gated log)');
    }
  }

  async close(): Promise<void> {
    await this.server.close().catch(() => undefined);
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.inFlight.clear();
    void this.transport.close().catch(() => undefined);
    this.onclose?.();
  }
}

function isRequest(message: unknown): message is { id: RequestId; method: string } {
  if (typeof message !== 'object' || message === null) return false;
  const m = message as Record<string, unknown>;
  return typeof m.method === 'string' && (typeof m.id === 'string' || typeof m.id === 'number');
}

function responseId(message: JSONRPCMessage): RequestId | undefined {
  if ('method' in message || !('id' in message)) return undefined;
  return message.id as RequestId;
}

export function answerError(res: ServerResponse, status: number, id: RequestId | null, code: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(body);
}
