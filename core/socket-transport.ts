// An MCP transport over a stream socket (unix socket or any Duplex): newline-delimited JSON-RPC exactly as the
// SDK's stdio transport frames it, using the SDK's own message schema, plus what a socket server needs and the SDK
// does not give: a frame size cap answered with a JSON-RPC error (not a crash), close-on-end both ways, one drain
// waiter however many writes are backpressured, and (server side, with `bounds`) flow control per connection.
import type { Duplex } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { deserializeMessage, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage, JSONRPCRequest, RequestId } from '@modelcontextprotocol/sdk/types.js';

export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** A request id is echoed in its answer (and every refusal of it): a longer one is refused, answered with id null. */
export const MAX_REQUEST_ID_CHARS = 256;

/**
 * Bytes of unfinished frames that all connections sharing it may hold together (one per socket): without it, each of
 * a socket's connections could hold a frame of nearly the cap. Past it, the connection asking for more is closed.
 */
export class FrameBudget {
  private held = 0;
  constructor(readonly maxBytes: number) {}
  reserve(bytes: number): boolean {
    if (this.held + bytes > this.maxBytes) return false;
    this.held += bytes;
    return true;
  }
  release(bytes: number): void {
    this.held -= bytes;
  }
  get heldBytes(): number {
    return this.held;
  }
}

/** JSON-RPC error codes from the spec. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

/** What one server-side connection may hold: the peer is not trusted to read its replies or finish its frames. */
export interface ConnectionBounds {
  /** Requests read but not yet answered; at the cap the transport reads nothing more until one is answered. */
  maxInFlight: number;
  /** A frame begun but not ended (no newline) for this long closes the connection. */
  partialFrameTimeoutMs: number;
  /** Replies the peer has not taken (the socket stays backpressured) for this long close the connection. */
  replyBacklogTimeoutMs: number;
}

export const DEFAULT_CONNECTION_BOUNDS: ConnectionBounds = {
  maxInFlight: 16,
  partialFrameTimeoutMs: 30_000,
  replyBacklogTimeoutMs: 30_000,
};

export interface SocketTransportOptions {
  maxFrameBytes?: number;
  /** Called for frames that could not be used (oversized, not JSON, not JSON-RPC), after the error is answered. */
  onBadFrame?: (reason: string) => void;
  /**
   * Server side: bound what the peer can make this connection hold. While the peer does not take its replies, or
   * has `maxInFlight` requests unanswered, nothing more is read from it (the kernel then blocks its writes).
   */
  bounds?: ConnectionBounds;
  /** Server side: shared with the other connections of the same socket (see FrameBudget). */
  frameBudget?: FrameBudget;
  /**
   * Server side: a refusal (answered as a JSON-RPC error with the request's id) or null to let the request through.
   * Called for every request before it is delivered, with the ids already in flight on this connection.
   */
  admit?: (request: JSONRPCRequest, inFlight: ReadonlySet<RequestId>) => string | null;
  /** Called when the transport closes the connection itself (a bound was exceeded), with the reason. */
  onDrop?: (reason: string) => void;
}

export class SocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  /** Bytes read but not yet looked at (reading stopped mid-chunk); at most about one read's worth. */
  private unread: Buffer[] = [];
  /** The frame being assembled, across reads. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** True while skipping the rest of an oversized frame up to its newline. */
  private discarding = false;
  private closed = false;
  private started = false;
  private pumping = false;
  private readonly maxFrameBytes: number;
  private readonly inFlight = new Set<RequestId>();
  /** Set while the socket's write side is backpressured; every sender waits on it, resolved by the one drain. */
  private drained: { promise: Promise<void>; resolve: () => void } | null = null;
  private partialTimer: NodeJS.Timeout | null = null;
  private backlogTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stream: Duplex,
    private readonly options: SocketTransportOptions = {},
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  async start(): Promise<void> {
    this.started = true;
    this.stream.on('data', this.onData);
    this.stream.on('drain', this.onDrain);
    this.stream.on('error', this.onStreamError);
    this.stream.on('end', this.onEnd);
    this.stream.on('close', this.onEnd);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.write(serializeMessage(message));
    const answered = responseId(message);
    if (answered !== undefined && this.inFlight.delete(answered)) this.updateReading();
    await this.drained?.promise;
  }

  /** Frees the slot of a request that will get no answer (the peer cancelled it); harmless if it was answered. */
  release(id: RequestId): void {
    if (this.inFlight.delete(id)) this.updateReading();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.clearTimer('partialTimer');
    this.clearTimer('backlogTimer');
    this.drained?.resolve();
    this.drained = null;
    this.unread = [];
    this.freeFrame();
    this.stream.end();
    this.stream.destroy();
    this.onclose?.();
  }

  private write(line: string): void {
    if (this.closed || this.stream.destroyed || !this.stream.writable) return;
    if (this.stream.write(line) || this.drained) return;
    // Resolved on drain or close rather than rejected: a peer that vanished is handled by the close path.
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.drained = { promise, resolve };
    const bounds = this.options.bounds;
    if (bounds) {
      this.updateReading();
      this.backlogTimer = setTimeout(
        () => this.drop(`replies not taken for ${bounds.replyBacklogTimeoutMs} ms`),
        bounds.replyBacklogTimeoutMs,
      );
    }
  }

  private readonly onDrain = (): void => {
    this.clearTimer('backlogTimer');
    const waiter = this.drained;
    this.drained = null;
    waiter?.resolve();
    this.updateReading();
  };

  private detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('drain', this.onDrain);
    this.stream.off('error', this.onStreamError);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
  }

  private drop(reason: string): void {
    if (this.closed) return;
    this.options.onDrop?.(reason);
    void this.close();
  }

  private readonly onEnd = (): void => {
    void this.close();
  };

  private readonly onStreamError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };

  private readonly onData = (chunk: Buffer): void => {
    this.unread.push(chunk);
    this.pump();
  };

  /** Whether the next frame may be read now: without bounds always; with them, only while the peer keeps up. */
  private mayRead(): boolean {
    if (this.closed) return false;
    const bounds = this.options.bounds;
    if (!bounds) return true;
    return this.drained === null && this.inFlight.size < bounds.maxInFlight;
  }

  /** Re-checks the bounds after a reply, a drain or a release: reads what is waiting, then lets the socket flow. */
  private updateReading(): void {
    if (!this.started || this.closed) return;
    if (this.mayRead()) {
      this.pump();
      if (this.mayRead()) this.stream.resume();
    } else {
      this.stream.pause();
    }
    this.armPartialTimer();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.unread.length > 0 && this.mayRead()) {
        const chunk = this.unread[0]!;
        const nl = chunk.indexOf(0x0a);
        if (nl === -1) {
          this.unread.shift();
          this.take(chunk);
          continue;
        }
        if (nl + 1 < chunk.length) this.unread[0] = chunk.subarray(nl + 1);
        else this.unread.shift();
        if (!this.discarding && this.buffered === 0) {
          this.handleLine(chunk.toString('utf8', 0, nl)); // the common case: a whole frame in one read, no copy
        } else {
          this.take(chunk.subarray(0, nl));
          this.endFrame();
        }
      }
      if (!this.mayRead()) this.stream.pause();
    } finally {
      this.pumping = false;
    }
    this.armPartialTimer();
  }

  /** Adds bytes with no newline to the frame being assembled, or skips them if it is oversized. */
  private take(piece: Buffer): void {
    if (this.closed || this.discarding || piece.length === 0) return;
    if (this.buffered + piece.length > this.maxFrameBytes) {
      this.freeFrame();
      this.discarding = true;
      this.reject(null, INVALID_REQUEST, `frame exceeds ${this.maxFrameBytes} bytes; it was discarded`);
      return;
    }
    const budget = this.options.frameBudget;
    if (budget && !budget.reserve(piece.length)) {
      this.drop(`unfinished frames on this socket would exceed ${budget.maxBytes} bytes`);
      return;
    }
    this.chunks.push(Buffer.from(piece)); // a copy: the read it came from is not kept alive by a partial frame
    this.buffered += piece.length;
  }

  private endFrame(): void {
    if (this.closed) return;
    if (this.discarding) {
      this.discarding = false;
      return;
    }
    const line = Buffer.concat(this.chunks, this.buffered).toString('utf8');
    this.freeFrame();
    this.handleLine(line);
  }

  /** Forgets the frame being assembled and gives its bytes back to the socket's budget. */
  private freeFrame(): void {
    this.options.frameBudget?.release(this.buffered);
    this.chunks = [];
    this.buffered = 0;
  }

  /**
   * A frame begun and not finished is the peer's to finish within the timeout, counted only while the transport
   * is reading (bytes it has not looked at yet are not the peer's delay).
   */
  private armPartialTimer(): void {
    const bounds = this.options.bounds;
    if (!bounds) return;
    const partial = this.unread.length === 0 && (this.buffered > 0 || this.discarding) && this.mayRead();
    if (!partial) this.clearTimer('partialTimer');
    else if (!this.partialTimer) {
      this.partialTimer = setTimeout(
        () => this.drop(`frame left unfinished for ${bounds.partialFrameTimeoutMs} ms`),
        bounds.partialFrameTimeoutMs,
      );
    }
  }

  private clearTimer(which: 'partialTimer' | 'backlogTimer'): void {
    const timer = this[which];
    if (timer) clearTimeout(timer);
    this[which] = null;
  }

  private handleLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim().length === 0) return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (error) {
      const notJson = error instanceof SyntaxError;
      this.reject(null, notJson ? PARSE_ERROR : INVALID_REQUEST, notJson ? 'frame is not valid JSON' : 'frame is not a JSON-RPC 2.0 message');
      return;
    }
    if (isRequest(message)) {
      if (typeof message.id === 'string' && message.id.length > MAX_REQUEST_ID_CHARS) {
        this.reject(null, INVALID_REQUEST, `request id is longer than ${MAX_REQUEST_ID_CHARS} characters`);
        return;
      }
      const refusal = this.options.admit?.(message, this.inFlight) ?? null;
      if (refusal !== null) {
        this.reject(message.id, INVALID_REQUEST, refusal);
        return;
      }
      this.inFlight.add(message.id);
    }
    this.onmessage?.(message);
  }

  /** Answers an unusable frame; written directly, so it never counts as the answer to a request in flight. */
  private reject(id: RequestId | null, code: number, message: string): void {
    this.options.onBadFrame?.(message);
    this.write(serializeMessage({ jsonrpc: '2.0', id, error: { code, message } } as unknown as JSONRPCMessage));
  }
}

function isRequest(message: JSONRPCMessage): message is JSONRPCRequest {
  return 'method' in message && 'id' in message;
}

/** The id a response answers, or undefined for requests and notifications. */
function responseId(message: JSONRPCMessage): RequestId | undefined {
  if ('method' in message || !('id' in message)) return undefined;
  return message.id as RequestId;
}
