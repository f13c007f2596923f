// A unix socket that belongs to one tenant (or one run): creates its private directory, replaces a stale socket
// file (never anything else), applies the mode/owner, caps connections, and on close ends every session on it.
// Each connection's own bounds (in flight, unfinished frames, untaken replies) are the session's transport's.
import { rmSync, unlinkSync } from 'node:fs';
import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../core/log.js';
import { FrameBudget } from '../core/socket-transport.js';
import { Session, type SessionDeps } from './session.js';
import { ensurePrivateSocketDirs } from './socket-paths.js';

/**
 * Refused connections kept open for a moment so they can read why; past this many on one socket, the next ones are
 * closed at once. Without it a client opening thousands of connections a second holds as many of gated's file
 * descriptors, until no tenant can connect.
 */
const MAX_REFUSED_HELD = 16;

/** Unfinished frames one socket's connections may hold together, in frames of the largest size. */
const FRAMES_HELD_PER_SOCKET = 2;

export interface ListenerOptions {
  socketPath: string;
  /** File mode of the socket (0660 by default; a run socket for a container user may be owned by that user). */
  mode?: number;
  owner?: { uid: number; gid: number };
  maxConnections: number;
  /** Remove the socket's directory on close (it belongs to this listener alone). */
  ownsDirectory?: boolean;
  session: SessionDeps;
  log: Logger;
}

export class SocketListener {
  private readonly server: NetServer;
  /** One per socket: however many connections a client opens, their half-sent frames share this. */
  private readonly frameBudget: FrameBudget;
  readonly sessions = new Set<Session>();
  /** Connections turned away, each given a moment to read why; ended at once on close. */
  private readonly refused = new Set<Socket>();
  private closing = false;
  /** True once the socket file is ours: only then does close remove it (and the directory it owns). */
  private bound = false;

  constructor(private readonly options: ListenerOptions) {
    this.frameBudget = new FrameBudget(FRAMES_HELD_PER_SOCKET * options.session.maxFrameBytes);
    this.server = createServer((socket) => this.accept(socket));
    this.server.on('error', (error) => options.log.error({ err: error }, 'socket server error'));
  }

  /** Refused connections still open (each for at most a second, at most MAX_REFUSED_HELD of them). */
  get refusedHeld(): number {
    return this.refused.size;
  }

  get socketPath(): string {
    return this.options.socketPath;
  }

  async listen(): Promise<void> {
    const { socketPath } = this.options;
    if (this.closing) throw new Error(`${socketPath}: listener is closed`);
    // DATA/ipc and the socket's own folder: someone who could write to either could swap the socket.
    ensurePrivateSocketDirs([dirname(dirname(socketPath)), dirname(socketPath)], 0o750);
    await removeStaleSocket(socketPath);
    if (this.closing) throw new Error(`${socketPath}: listener was closed while it was opening`);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        this.server.off('error', fail).off('close', closedFirst);
        reject(error);
      };
      const closedFirst = () => fail(new Error(`${socketPath}: listener was closed while it was opening`));
      this.server.once('error', fail).once('close', closedFirst);
      this.server.listen(socketPath, () => {
        this.server.off('error', fail).off('close', closedFirst);
        this.bound = true; // before anything else can run: a close() from now on removes the file
        resolve();
      });
    });
    if (this.closing) throw new Error(`${socketPath}: listener was closed while it was opening`);
    await chmod(socketPath, this.options.mode ?? 0o660);
    if (this.options.owner) await chown(socketPath, this.options.owner.uid, this.options.owner.gid);
  }

  private accept(socket: Socket): void {
    if (this.closing || this.sessions.size >= this.options.maxConnections) {
      const message = this.closing ? 'socket is closing' : `too many connections (limit ${this.options.maxConnections})`;
      socket.on('error', () => undefined);
      if (this.refused.size >= MAX_REFUSED_HELD) {
        socket.destroy();
        return;
      }
      socket.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }) + '\n');
      this.refused.add(socket);
      socket.once('close', () => this.refused.delete(socket));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const { log } = this.options;
    const session = new Session(socket, { ...this.options.session, frameBudget: this.frameBudget });
    this.sessions.add(session);
    log.debug({ connections: this.sessions.size }, 'client connected');
    session.onclose = () => {
      this.sessions.delete(session);
      log.debug({ connections: this.sessions.size }, 'client disconnected');
    };
    session.start().catch((error: unknown) => {
      this.options.log.warn({ err: error }, 'session failed to start');
      void session.close();
    });
  }

  notifyToolsChanged(): void {
    for (const s of this.sessions) s.notifyToolsChanged();
  }

  /** Safe whether or not listen() ran or succeeded; ends every connection at once rather than waiting for it. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // The callback comes once no connection is left (with an error, ignored, if the server never listened).
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.refused) socket.destroy();
    await Promise.all([...this.sessions].map((s) => s.close()));
    await closed;
    if (!this.bound) return;
    const { socketPath } = this.options;
    try {
      unlinkSync(socketPath);
    } catch {
      // already gone
    }
    if (this.options.ownsDirectory) rmSync(dirname(socketPath), { recursive: true, force: true });
  }
}

/** A leftover socket from a previous run is removed; any other kind of file in its place is an error. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  let st;
  try {
    st = await lstat(socketPath);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  await unlink(socketPath);
}
