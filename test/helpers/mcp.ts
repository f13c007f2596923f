// The MCP SDK's real client, connected to a gated unix socket.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connect } from 'node:net';
import { SocketTransport } from '../../core/socket-transport.js';

export async function connectClient(socketPath: string, name = 'test'): Promise<Client> {
  const socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const client = new Client({ name, version: '0.0.0' });
  await client.connect(new SocketTransport(socket));
  return client;
}

/** The text of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('\n');
}
