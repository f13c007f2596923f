// An MCP transport over a stream socket (unix socket or any Duplex): newline-delimited JSON-RPC exactly as the
// SDK's stdio transport frames it, using the SDK's own message schema, plus what a socket server needs and the SDK
// does not give: a frame size cap answered with a JSON-RPC error (not a crash), and close-on-end both ways.
import type { Duplex } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { deserializeMessage, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** JSON-RPC error codes from the spec. */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;

export interface SocketTransportOptions {
  maxFrameBytes?: number;
  /** Called for frames that could not be used (oversized, not JSON, not JSON-RPC), after the error is answered. */
  onBadFrame?: (reason: string) => void;
}

export class SocketTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private chunks: Buffer[] = [];
  private buffered = 0;
  /** True while skipping the rest of an oversized frame up to its newline. */
  private discarding = false;
  private closed = false;
  private readonly maxFrameBytes: number;

  constructor(
    private readonly stream: Duplex,
    private readonly options: SocketTransportOptions = {},
  ) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  async start(): Promise<void> {
    this.stream.on('data', this.onData);
    this.stream.on('error', this.onStreamError);
    this.stream.on('end', this.onEnd);
    this.stream.on('close', this.onEnd);
  }

  async send(message: JSONRPCMessage): Promise<void> {
    if (this.closed || this.stream.destroyed || !this.stream.writable) return;
    const line = serializeMessage(message);
    await new Promise<void>((resolve) => {
      // Resolve on drain rather than reject: a peer that vanished is handled by the close path, not by every sender.
      if (this.stream.write(line)) resolve();
      else this.stream.once('drain', resolve).once('close', resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.detach();
    this.stream.end();
    this.stream.destroy();
    this.onclose?.();
  }

  private detach(): void {
    this.stream.off('data', this.onData);
    this.stream.off('error', this.onStreamError);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
  }

  private readonly onEnd = (): void => {
    void this.close();
  };

  private readonly onStreamError = (error: Error): void => {
    this.onerror?.(error);
    void this.close();
  };

  private readonly onData = (chunk: Buffer): void => {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (!this.discarding) {
        if (this.buffered + piece.length > this.maxFrameBytes) {
          this.chunks = [];
          this.buffered = 0;
          this.discarding = true;
          this.reject(INVALID_REQUEST, `frame exceeds ${this.maxFrameBytes} bytes; it was discarded`);
        } else if (nl !== -1 && this.buffered === 0) {
          this.handleLine(piece.toString('utf8')); // the common case: a whole frame in one chunk, no copy
          start = nl + 1;
          continue;
        } else if (piece.length > 0) {
          this.chunks.push(Buffer.from(piece));
          this.buffered += piece.length;
        }
      }
      if (nl === -1) break;
      if (this.discarding) this.discarding = false;
      else this.flushLine();
      start = nl + 1;
    }
  };

  private flushLine(): void {
    const line = Buffer.concat(this.chunks, this.buffered).toString('utf8');
    this.chunks = [];
    this.buffered = 0;
    this.handleLine(line);
  }

  private handleLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim().length === 0) return;
    let message: JSONRPCMessage;
    try {
      message = deserializeMessage(line);
    } catch (error) {
      const notJson = error instanceof SyntaxError;
      this.reject(notJson ? PARSE_ERROR : INVALID_REQUEST, notJson ? 'frame is not valid JSON' : 'frame is not a JSON-RPC 2.0 message');
      return;
    }
    this.onmessage?.(message);
  }

  private reject(code: number, message: string): void {
    this.options.onBadFrame?.(message);
    void this.send({ jsonrpc: '2.0', id: null, error: { code, message } } as unknown as JSONRPCMessage);
  }
}
