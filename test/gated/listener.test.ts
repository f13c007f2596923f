// One tenant socket's listener: closing is safe whatever happened to listen(), and connections are logged.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/log.js';
import { DEFAULT_CONNECTION_BOUNDS } from '../../core/socket-transport.js';
import { SocketListener } from '../../gated/listener.js';
import type { SessionDeps } from '../../gated/session.js';
import { connectClient } from '../helpers/mcp.js';
import { tempTree, type TempTree } from '../helpers/tree.js';
import { eventually } from '../helpers/wait.js';

let tree: TempTree;
afterEach(() => tree?.cleanup());

function listener(socketPath: string, log = silentLogger()): SocketListener {
  const session: SessionDeps = {
    env: () => {
      throw new Error('no calls in these tests');
    },
    log,
    maxFrameBytes: 1024,
    bounds: DEFAULT_CONNECTION_BOUNDS,
  };
  return new SocketListener({ socketPath, maxConnections: 4, ownsDirectory: true, session, log });
}

describe('SocketListener', () => {
  it('closes at once when listen() never ran, removing nothing', async () => {
    tree = tempTree();
    const dir = join(tree.data, 'ipc', 'acme');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep'), 'not the listener’s');
    await listener(join(dir, 'gated.sock')).close();
    expect(existsSync(join(dir, 'keep'))).toBe(true);
  });

  it('closes at once after listen() failed, leaving the file that made it fail and its directory alone', async () => {
    tree = tempTree();
    const socketPath = join(tree.data, 'ipc', 'acme', 'gated.sock');
    mkdirSync(dirname(socketPath), { recursive: true });
    writeFileSync(socketPath, 'an operator file');
    const l = listener(socketPath);
    await expect(l.listen()).rejects.toThrow(/is not a socket/);
    await l.close();
    expect(readFileSync(socketPath, 'utf8')).toBe('an operator file');
  });

  it('settles both when close() runs while listen() is under way, and serves nothing after', async () => {
    tree = tempTree();
    const l = listener(join(tree.data, 'ipc', 'acme', 'gated.sock'));
    const listening = l.listen().then(
      () => 'listened',
      (error: Error) => error.message,
    );
    await l.close();
    expect(await listening).toMatch(/closed while it was opening/);
    expect(existsSync(l.socketPath)).toBe(false);
  });

  it('logs each client connecting and disconnecting at debug level, with the logger’s tenant', async () => {
    tree = tempTree();
    const lines: { msg: string; tenant: string; connections: number; level: number }[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) }).child({ tenant: 'acme' });
    const l = listener(join(tree.data, 'ipc', 'acme', 'gated.sock'), log);
    await l.listen();
    const client = await connectClient(l.socketPath);
    await client.close();
    await eventually(() => lines.some((l) => l.msg === 'client disconnected'), 'the disconnect to be logged', 5000);
    const connections = lines.filter((l) => l.msg.startsWith('client '));
    expect(connections.map((l) => [l.msg, l.tenant, l.connections, l.level])).toEqual([
      ['client connected', 'acme', 1, 20],
      ['client disconnected', 'acme', 0, 20],
    ]);
    await l.close();
    expect(existsSync(l.socketPath)).toBe(false);
  });

  it("closes the connection whose half-sent frame would take the socket's frames past two full ones, and serves the rest", async () => {
    // Four clients (the connection limit), each holding 700 of the 1024 bytes a frame may have: the third is over.
    tree = tempTree();
    const l = listener(join(tree.data, 'ipc', 'acme', 'gated.sock'));
    await l.listen();
    const half = '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + 'x'.repeat(640);
    const clients: { socket: Socket; ended: boolean }[] = [];
    for (let i = 0; i < 3; i++) {
      const socket = connect(l.socketPath);
      const client = { socket, ended: false };
      socket.on('close', () => (client.ended = true)).on('error', () => undefined);
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(half);
      clients.push(client);
      await eventually(() => l.sessions.size === i + 1, 'the connection to be accepted', 5000);
    }
    await eventually(() => clients[2]!.ended, 'the third half frame to close its connection', 5000);
    expect(clients.map((c) => c.ended)).toEqual([false, false, true]);
    const client = await connectClient(l.socketPath);
    await client.ping();
    await client.close();
    for (const c of clients) c.socket.destroy();
    await l.close();
  });

  it('holds at most 16 refused connections open to read why; a flood past the limit costs no more descriptors', async () => {
    // Clients that never read: each refused one would otherwise stay open for its second to read the error.
    tree = tempTree();
    const l = listener(join(tree.data, 'ipc', 'acme', 'gated.sock'));
    await l.listen();
    const sockets: Socket[] = [];
    const open = () => {
      const socket = connect(l.socketPath).on('error', () => undefined);
      socket.pause();
      sockets.push(socket);
      return new Promise((resolve) => socket.once('connect', resolve));
    };
    for (let i = 0; i < 4; i++) await open();
    await eventually(() => l.sessions.size === 4, 'the four allowed connections', 5000);
    await Promise.all(Array.from({ length: 200 }, open));
    await eventually(() => l.refusedHeld > 0, 'refusals', 5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(l.refusedHeld).toBeLessThanOrEqual(16);
    expect(l.sessions.size).toBe(4);
    for (const socket of sockets) socket.destroy();
    await l.close();
  });
});
