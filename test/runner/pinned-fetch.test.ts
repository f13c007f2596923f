// The runner's fetch for gated (images/agent/runner/pinned-fetch.ts) through a proxy, as on a Swarm task whose only
// way off its internal overlay is crackbox: a CONNECT tunnel, TLS with the pinned CA inside it. A real HTTPS server
// with gated's own TLS material, and a real CONNECT proxy that records what it carried.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTls, parseSans } from '../../gated/tls.js';
import { pinnedFetch, proxyFor } from '../../images/agent/runner/pinned-fetch.js';

const listen = (server: Server) =>
  new Promise<number>((r) => server.listen({ host: '127.0.0.1', port: 0 }, () => r((server.address() as { port: number }).port)));

describe('proxyFor: whether the connection to gated is tunnelled, and through what', () => {
  const gated = new URL('https://10.0.0.5:7443/mcp');
  it.each([
    ['no proxy set', {}, null],
    ['HTTPS_PROXY', { HTTPS_PROXY: 'http://10.0.9.9:3128' }, 'http://10.0.9.9:3128/'],
    ['https_proxy', { https_proxy: 'http://10.0.9.9:3128' }, 'http://10.0.9.9:3128/'],
    ['the host in NO_PROXY', { HTTPS_PROXY: 'http://10.0.9.9:3128', NO_PROXY: 'localhost,10.0.0.5' }, null],
    ['NO_PROXY *', { HTTPS_PROXY: 'http://10.0.9.9:3128', NO_PROXY: '*' }, null],
    ['another host in NO_PROXY', { HTTPS_PROXY: 'http://10.0.9.9:3128', NO_PROXY: 'localhost,127.0.0.1' }, 'http://10.0.9.9:3128/'],
  ] as [string, Record<string, string>, string | null][])('%s', (_what, env, want) => {
    expect(proxyFor(gated, env)?.href ?? null).toBe(want);
  });

  it('a domain suffix in NO_PROXY covers its subdomains', () => {
    expect(proxyFor(new URL('https://gated.cluster.test/'), { HTTPS_PROXY: 'http://p:1', NO_PROXY: '.cluster.test' })).toBeNull();
    expect(proxyFor(new URL('https://gated.cluster.test/'), { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'other.test' })).not.toBeNull();
  });

  it('a proxy that is not http:// is an error, never a direct connection', () => {
    expect(() => proxyFor(gated, { HTTPS_PROXY: 'socks5://10.0.9.9:1080' })).toThrow(/must be an http:\/\/ proxy/);
    expect(() => proxyFor(gated, { HTTPS_PROXY: 'not a url' })).toThrow(/not a URL/);
  });
});

describe('pinnedFetch through a CONNECT proxy', () => {
  const data = mkdtempSync(join(tmpdir(), 'warren-pinned-'));
  const other = mkdtempSync(join(tmpdir(), 'warren-pinned-other-'));
  let gatedPort: number;
  let proxyPort: number;
  let refusingPort: number;
  const gated = createHttpsServer();
  const proxy = createHttpServer();
  const refusing = createHttpServer();
  const tunnels: string[] = [];
  let carried = Buffer.alloc(0);
  let ca: string;
  let otherCa: string;

  beforeAll(async () => {
    const tls = ensureTls(data, parseSans('127.0.0.1'));
    ca = tls.caPem;
    otherCa = ensureTls(other, parseSans('127.0.0.1')).caPem;
    gated.setSecureContext({ cert: tls.certPem, key: tls.keyPem });
    gated.on('request', (req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.end(`gated got ${req.method} ${req.url} ${body}`));
    });
    gatedPort = await listen(gated as unknown as Server);
    proxy.on('connect', (req, client: Socket, head) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect({ host, port: Number(port) }, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) upstream.write(head);
        client.on('data', (c: Buffer) => (carried = Buffer.concat([carried, c])));
        client.pipe(upstream).pipe(client);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    proxyPort = await listen(proxy);
    refusing.on('connect', (_req, client: Socket) => client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
    refusingPort = await listen(refusing);
  });

  afterAll(() => {
    for (const s of [gated, proxy, refusing]) {
      s.closeAllConnections();
      s.close();
    }
    rmSync(data, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  it('tunnels to gated with CONNECT; TLS with the pinned CA runs inside, so the proxy carries only ciphertext', async () => {
    const pinned = pinnedFetch(ca, { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` });
    try {
      const res = await pinned.fetch(`https://127.0.0.1:${gatedPort}/mcp`, { method: 'POST', body: 'the-secret-token-body' });
      expect(await res.text()).toBe('gated got POST /mcp the-secret-token-body');
      expect(tunnels).toEqual([`127.0.0.1:${gatedPort}`]);
      expect(carried.length).toBeGreaterThan(0);
      expect(carried.toString('latin1')).not.toContain('the-secret-token-body');
      expect(carried.toString('latin1')).not.toContain('/mcp');
    } finally {
      pinned.close();
    }
  });

  it('another CA behind the same tunnel is refused', async () => {
    const pinned = pinnedFetch(otherCa, { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}` });
    try {
      await expect(pinned.fetch(`https://127.0.0.1:${gatedPort}/mcp`)).rejects.toThrow(/certificate/i);
    } finally {
      pinned.close();
    }
  });

  it('a proxy that refuses the tunnel fails the request with its answer; nothing goes around it', async () => {
    const pinned = pinnedFetch(ca, { HTTPS_PROXY: `http://127.0.0.1:${refusingPort}` });
    try {
      await expect(pinned.fetch(`https://127.0.0.1:${gatedPort}/mcp`)).rejects.toThrow(/refused the tunnel to 127\.0\.0\.1:\d+: 403/);
    } finally {
      pinned.close();
    }
  });
});
