// Load generator for bench/gated.ts, run as a separate process so client work does not share gated's thread.
// argv: mode ("load" | "idle"), then a JSON config. Prints one JSON line with its result.
import { connect } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SocketTransport } from '../core/socket-transport.js';

async function open(path: string): Promise<Client> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(new SocketTransport(socket));
  return client;
}

async function load(sockets: string[], seconds: number, inflight: number, tool: string, args: Record<string, unknown>): Promise<void> {
  const clients = await Promise.all(sockets.map(open));
  let calls = 0;
  let errors = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    clients.flatMap((client) =>
      Array.from({ length: inflight }, async () => {
        while (Date.now() < deadline) {
          const r = await client.callTool({ name: tool, arguments: args });
          if (r.isError) errors++;
          calls++;
        }
      }),
    ),
  );
  const elapsed = (Date.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  process.stdout.write(JSON.stringify({ calls, errors, seconds: elapsed }) + '\n');
}

async function idle(path: string, count: number): Promise<void> {
  const clients: Client[] = [];
  for (let i = 0; i < count; i++) clients.push(await open(path));
  process.stdout.write(JSON.stringify({ open: clients.length }) + '\n');
  // Stay connected until the parent has measured and closes our stdin.
  await new Promise<void>((resolve) => process.stdin.once('end', resolve).resume());
  await Promise.all(clients.map((c) => c.close()));
}

const [mode, config] = process.argv.slice(2);
const c = JSON.parse(config ?? '{}');
if (mode === 'load') await load(c.sockets, c.seconds, c.inflight, c.tool ?? 'whoami', c.args ?? {});
else if (mode === 'idle') await idle(c.socket, c.count);
else throw new Error(`unknown mode ${mode}`);
