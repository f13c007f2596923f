// crackbox's node process (crackbox/swarm/node.ts) on loopback, without Docker: two "overlay addresses" 127.0.0.2
// (acme) and 127.0.0.3 (beta), the policy from a snapshot, a fake upstream on 127.0.0.1. The cluster test runs the
// same code in the image on a real swarm; this one pins the decisions wherever the cluster cannot run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type Server } from 'node:http';
import { parseAllowlist } from '../../../core/allowlist.js';
import { silentLogger } from '../../../core/log.js';
import { CrackboxNode } from '../../../crackbox/swarm/node.js';
import { buildSnapshot, encodeSnapshot, parseSnapshot } from '../../../crackbox/swarm/snapshot.js';
import { FakeUpstream, askUdp, query, rcodeOf } from '../helpers.js';

const entries = (text: string, t: string) => parseAllowlist(text, `/t/${t}/allowlist`).entries;

describe('crackbox on one node, from a snapshot', () => {
  let upstream: FakeUpstream;
  let node: CrackboxNode;
  // Stands in for gated's endpoint, on an address the address policy refuses (a node address).
  let gated: Server;
  let gatedPort: number;

  beforeAll(async () => {
    gated = createServer((_req, res) => res.end('gated'));
    gatedPort = await new Promise<number>((r) => gated.listen({ host: '127.0.0.1', port: 0 }, () => r((gated.address() as { port: number }).port)));
    upstream = await new FakeUpstream().start();
    for (const n of ['acme.test', 'beta.test']) upstream.records.set(n, ['127.0.0.1']);
    const snapshot = parseSnapshot(
      encodeSnapshot(
        buildSnapshot({
          instance: 'w1',
          dnsPort: 53, // both replaced by 0 below: the test takes free ports
          proxyPort: 3128,
          base: [],
          networks: [
            { tenant: 'acme', network: 'warren-w1-egress-acme', subnet: '127.0.0.2/32' },
            { tenant: 'beta', network: 'warren-w1-egress-beta', subnet: '127.0.0.3/32' },
          ],
          allowedRanges: [],
          nodeAddresses: ['127.0.0.1'],
          infrastructure: [{ name: 'gated', address: '127.0.0.1', port: gatedPort }],
          stateOf: (t) => (t === 'acme' ? { entries: entries('acme.test', t), broken: null } : t === 'beta' ? { entries: [], broken: 'bad line' } : null),
        }),
      ),
    );
    node = await CrackboxNode.start({
      snapshot: { ...snapshot, dnsPort: 0, proxyPort: 0 } as never,
      upstream: `${upstream.host}:${upstream.port}`,
      localAddresses: ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'].map((address) => ({ address, family: 'IPv4' })),
      log: silentLogger(),
    });
  });

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
    gated?.close();
  });

  it('listens on each tenant’s overlay address only', () => {
    expect([...node.listeners]).toEqual([
      ['127.0.0.2', 'acme'],
      ['127.0.0.3', 'beta'],
    ]);
  });

  it('decides by the address a query arrives on: acme resolves its name, beta (broken allowlist) gets NXDOMAIN, unasked', async () => {
    expect(rcodeOf(await askUdp('127.0.0.2', node.dns.port, query('acme.test')))).toBe(0);
    expect(rcodeOf(await askUdp('127.0.0.2', node.dns.port, query('beta.test')))).toBe(3);
    expect(rcodeOf(await askUdp('127.0.0.3', node.dns.port, query('acme.test')))).toBe(3);
    expect(upstream.count('beta.test')).toBe(0);
  });

  it('the proxy denies with the rule of the snapshot; the loopback target is refused by the address policy', async () => {
    const ask = (host: string, target: string) =>
      new Promise<{ status?: number; rule?: string }>((resolve, reject) => {
        const req = request({ host, port: node.proxy.port, method: 'CONNECT', path: target });
        req.on('connect', (res, socket) => {
          socket.destroy();
          resolve({ status: res.statusCode, rule: res.headers['x-crackbox-rule'] as string | undefined });
        });
        req.on('error', reject);
        req.end();
      });
    expect(await ask('127.0.0.3', 'acme.test:443')).toMatchObject({ status: 403, rule: 'broken-allowlist' });
    expect(await ask('127.0.0.2', 'other.test:443')).toMatchObject({ status: 403, rule: 'default-deny' });
    expect(await ask('127.0.0.2', 'acme.test:443')).toMatchObject({ status: 403, rule: 'address-policy' });
  });

  it('tunnels any tenant to gated’s exact address and port, and nothing else of that host', async () => {
    const connectTo = (host: string, target: string) =>
      new Promise<{ status?: number; rule?: string }>((resolve, reject) => {
        const req = request({ host, port: node.proxy.port, method: 'CONNECT', path: target });
        req.on('connect', (res, socket) => {
          socket.destroy();
          resolve({ status: res.statusCode, rule: res.headers['x-crackbox-rule'] as string | undefined });
        });
        req.on('error', reject);
        req.end();
      });
    // beta's allowlist is broken (deny all), and 127.0.0.1 is a node address: gated is reached all the same.
    expect(await connectTo('127.0.0.3', `127.0.0.1:${gatedPort}`)).toMatchObject({ status: 200 });
    expect(await connectTo('127.0.0.2', `127.0.0.1:${gatedPort}`)).toMatchObject({ status: 200 });
    expect(await connectTo('127.0.0.2', `127.0.0.1:${gatedPort + 1}`)).toMatchObject({ status: 403 });
    expect(await connectTo('127.0.0.2', `localhost:${gatedPort}`)).toMatchObject({ status: 403 });
    // Plain HTTP to the same address and port is an ordinary request: the tenant's policy decides (default deny).
    const plain = await new Promise<number | undefined>((resolve, reject) => {
      const req = request({ host: '127.0.0.2', port: node.proxy.port, path: `http://127.0.0.1:${gatedPort}/`, headers: { host: `127.0.0.1:${gatedPort}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(plain).toBe(403);
  });
});

describe('gated’s address, when it is no node address and lies in an allowed range', () => {
  let upstream: FakeUpstream;
  let node: CrackboxNode;
  // gated's endpoint, and another service on the same address (say, the manager's own API).
  let gated: Server;
  let other: Server;
  const portOf = (s: Server) => (s.address() as { port: number }).port;

  beforeAll(async () => {
    gated = createServer((_req, res) => res.end('gated'));
    other = createServer((_req, res) => res.end('other'));
    for (const s of [gated, other]) await new Promise<void>((r) => s.listen({ host: '127.0.0.1', port: 0 }, () => r()));
    upstream = await new FakeUpstream().start();
    // An allowlisted name whose answers the tenant controls, pointed at gated's address.
    upstream.records.set('acme.test', ['127.0.0.1']);
    const snapshot = parseSnapshot(
      encodeSnapshot(
        buildSnapshot({
          instance: 'w1',
          dnsPort: 53,
          proxyPort: 3128,
          base: [],
          networks: [{ tenant: 'acme', network: 'warren-w1-egress-acme', subnet: '127.0.0.2/32' }],
          allowedRanges: ['127.0.0.0/8'],
          nodeAddresses: [],
          infrastructure: [{ name: 'gated', address: '127.0.0.1', port: portOf(gated) }],
          stateOf: (t) => (t === 'acme' ? { entries: entries(`acme.test:${portOf(gated)},${portOf(other)}`, t), broken: null } : null),
        }),
      ),
    );
    node = await CrackboxNode.start({
      snapshot: { ...snapshot, dnsPort: 0, proxyPort: 0 } as never,
      upstream: `${upstream.host}:${upstream.port}`,
      localAddresses: [{ address: '127.0.0.2', family: 'IPv4' }],
      log: silentLogger(),
    });
  });

  afterAll(async () => {
    await node?.stop();
    await upstream?.stop();
    gated?.close();
    other?.close();
  });

  it('is reached only by CONNECT to its exact address and port: a name leading there, or another port, is refused', async () => {
    const connectTo = (target: string) =>
      new Promise<{ status?: number; rule?: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.2', port: node.proxy.port, method: 'CONNECT', path: target });
        req.on('connect', (res, socket) => {
          socket.destroy();
          resolve({ status: res.statusCode, rule: res.headers['x-crackbox-rule'] as string | undefined });
        });
        req.on('error', reject);
        req.end();
      });
    expect(await connectTo(`127.0.0.1:${portOf(gated)}`)).toMatchObject({ status: 200 });
    expect(await connectTo(`acme.test:${portOf(other)}`)).toMatchObject({ status: 403, rule: 'address-policy' });
    expect(await connectTo(`acme.test:${portOf(gated)}`)).toMatchObject({ status: 403, rule: 'address-policy' });
    expect(await connectTo(`127.0.0.1:${portOf(other)}`)).toMatchObject({ status: 403 });
    const plain = await new Promise<number | undefined>((resolve, reject) => {
      const req = request({ host: '127.0.0.2', port: node.proxy.port, path: `http://acme.test:${portOf(other)}/`, headers: { host: `acme.test:${portOf(other)}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
    expect(plain).toBe(403);
  });
});
