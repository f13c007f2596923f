// A stand-in for "the internet" that lives entirely on this machine: a network namespace the test creates, joined to
// the host by a veth pair with addresses from a test-only range, running a small node server:
//   tcp 80, 8080   HTTP: "hello from the internet <url>"
//   tcp 443        a ping-pong stream: "tick 1\n", then one more tick per "next\n" from the client, "done\n" after 3
//                  (a proxy that buffers would deadlock it: proof that tunnels stream)
//   udp 53         echoes every datagram; tcp 53 says "tcp53" (a resolver that is not crackbox)
// Everything is removed by stop().
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

const SERVER = String.raw`
const http = require('http'), net = require('net'), dgram = require('dgram');
const web = (req, res) => res.end('hello from the internet ' + req.url);
http.createServer(web).listen(80);
http.createServer(web).listen(8080);
net.createServer((s) => {
  let n = 1, buf = '';
  s.on('error', () => s.destroy());
  s.write('tick 1\n');
  s.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      buf = buf.slice(i + 1);
      n++;
      if (n > 3) { s.end('done\n'); return; }
      s.write('tick ' + n + '\n');
    }
  });
}).listen(443);
const u = dgram.createSocket('udp4');
u.on('message', (m, r) => u.send(m, r.port, r.address));
u.bind(53);
net.createServer((s) => s.end('tcp53')).listen(53);
setTimeout(() => console.log('ready'), 200);
`;

export interface Internet {
  /** The server's address inside the namespace. */
  ip: string;
  /** The host's address on the veth. */
  hostIp: string;
  stop(): Promise<void>;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates the namespace `name` with the server on `<prefix>.2` (host side `<prefix>.1`, a /24). */
export async function startInternet(name: string, prefix: string): Promise<Internet> {
  const hostIf = `${name}h`.slice(0, 15);
  const nsIf = `${name}n`.slice(0, 15);
  const nsIp = `${prefix}.2`;
  const hostIp = `${prefix}.1`;
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    try {
      ip('netns', 'del', name);
    } catch {
      // already gone
    }
    try {
      ip('link', 'del', hostIf);
    } catch {
      // removed with the namespace
    }
  };
  try {
    ip('netns', 'add', name);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
    ip('link', 'set', nsIf, 'netns', name);
    ip('addr', 'add', `${hostIp}/24`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/24`, 'dev', nsIf);
    ip('netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up');
    ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
    child = spawn('ip', ['netns', 'exec', name, process.execPath, '-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the netns server did not start')), 10_000);
      child!.once('exit', (code) => reject(new Error(`the netns server exited (${code})`)));
      child!.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { ip: nsIp, hostIp, stop };
}
