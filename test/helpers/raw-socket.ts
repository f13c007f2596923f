// Raw newline-delimited JSON-RPC over a gated socket, for tests that need to send exactly chosen bytes.
import { connect, type Socket } from 'node:net';

export interface RawClient {
  socket: Socket;
  /** Resolves with the response frame whose id is `id`. */
  response(id: number): Promise<any>;
  close(): void;
}

export async function rawClient(path: string): Promise<RawClient> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const byId = new Map<number, any>();
  const waiters = new Map<number, (v: any) => void>();
  let buf = '';
  socket.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const frame = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (typeof frame.id === 'number') {
        byId.set(frame.id, frame);
        waiters.get(frame.id)?.(frame);
      }
    }
  });
  socket.on('error', () => undefined);
  return {
    socket,
    response(id) {
      const have = byId.get(id);
      if (have) return Promise.resolve(have);
      return new Promise((resolve) => waiters.set(id, resolve));
    },
    close: () => socket.destroy(),
  };
}

export const frame = (o: unknown) => JSON.stringify(o) + '\n';

export const initFrame = (id: number) =>
  frame({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });

export async function initialised(path: string): Promise<RawClient> {
  const c = await rawClient(path);
  c.socket.write(initFrame(0));
  await c.response(0);
  c.socket.write(frame({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  return c;
}

export const callFrame = (id: number, name: string, args: unknown) =>
  frame({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
