// The web listener over real sockets and a real tenant folder: what it serves, and every way out it refuses.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/log.js';
import { listen } from '../../../gateway/http.js';
import { createWebServer } from '../../../gateway/web/server.js';

let dir: string;
let server: Server;
let base: string;
const publishing = new Set(['acme', 'acme/support', 'big']);

function get(path: string, headers: Record<string, string> = {}) {
  return fetch(base + path, { headers, redirect: 'manual' });
}

/** fetch() sets Host itself; a vhost request needs its own. */
function getAs(host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warren-web-'));
  const acme = join(dir, 'acme', 'web');
  mkdirSync(join(acme, 'reports'), { recursive: true });
  mkdirSync(join(acme, 'noindex'));
  writeFileSync(join(acme, 'index.html'), '<h1>acme</h1>');
  writeFileSync(join(acme, 'reports', 'q1.csv'), 'a,b\n1,2\n');
  writeFileSync(join(acme, 'reports', 'index.html'), 'reports');
  writeFileSync(join(acme, '.env'), 'SECRET=1');
  writeFileSync(join(acme, 'noindex', 'x.txt'), 'x');
  writeFileSync(join(acme, 'bytes.bin'), Buffer.from([...Array(100).keys()]));
  writeFileSync(join(dir, 'acme', 'PERSONA.md'), 'outside web/');
  symlinkSync('../PERSONA.md', join(acme, 'escape.txt'));
  symlinkSync('/etc', join(acme, 'etc'));
  symlinkSync('reports', join(acme, 'inner-link')); // even a link that stays inside: refused
  mkdirSync(join(dir, 'acme', 'support', 'web'), { recursive: true });
  writeFileSync(join(dir, 'acme', 'support', 'web', 'index.html'), 'support');
  mkdirSync(join(dir, 'quiet', 'web'), { recursive: true });
  writeFileSync(join(dir, 'quiet', 'web', 'index.html'), 'not published');
  mkdirSync(join(dir, 'big', 'web'), { recursive: true });
  writeFileSync(join(dir, 'big', 'web', 'index.html'), Buffer.alloc(2048));
  server = createWebServer({
    sites: {
      vhost: (host) => (host === 'reports.acme.example' ? 'acme' : host === 'quiet.example' ? 'quiet' : undefined),
      publishes: (t) => publishing.has(t),
      tenantDir: (t) => (publishing.has(t) ? join(dir, t) : undefined),
    },
    quotaBytes: 3000,
    quotaCacheMs: 0,
    log: silentLogger(),
  });
  const address = await listen(server, '127.0.0.1', 0);
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('web listener', () => {
  it('serves a site through the path prefix, with its type, a CSP and an ETag', async () => {
    const res = await get('/t/acme/');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('<h1>acme</h1>');
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(/sandbox/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('etag')).toMatch(/^".+"$/);
    expect(res.headers.get('set-cookie')).toBeNull();
    const csv = await get('/t/acme/reports/q1.csv?private=token');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(await csv.text()).toBe('a,b\n1,2\n');
  });

  it('serves a nested tenant by the longest prefix, and a mapped host at /', async () => {
    expect(await (await get('/t/acme/support/')).text()).toBe('support');
    expect(await getAs('reports.acme.example', '/')).toEqual({ status: 200, body: '<h1>acme</h1>' });
    expect(await getAs('Reports.Acme.Example:7381', '/reports/')).toEqual({ status: 200, body: 'reports' });
    expect((await getAs('reports.acme.example', '/.env')).status).toBe(404);
  });

  it('answers If-None-Match with 304', async () => {
    const first = await get('/t/acme/index.html');
    const etag = first.headers.get('etag')!;
    const again = await get('/t/acme/index.html', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
  });

  it('serves byte ranges, and 416 past the end', async () => {
    const part = await get('/t/acme/bytes.bin', { range: 'bytes=10-19' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 10-19/100');
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const tail = await get('/t/acme/bytes.bin', { range: 'bytes=-2' });
    expect([...new Uint8Array(await tail.arrayBuffer())]).toEqual([98, 99]);
    const past = await get('/t/acme/bytes.bin', { range: 'bytes=100-' });
    expect(past.status).toBe(416);
  });

  it.each([
    ['/t/acme/.env', 'a dot-file'],
    ['/t/acme/%2e%2e/PERSONA.md', 'traversal'],
    ['/t/acme/reports/..%2f..%2fPERSONA.md', 'encoded traversal'],
    ['/t/acme/escape.txt', 'a symlink out of web/'],
    ['/t/acme/etc/passwd', 'a symlinked folder'],
    ['/t/acme/inner-link/q1.csv', 'a symlink inside web/'],
    ['/t/acme/noindex/', 'a folder without index.html'],
    ['/t/acme/reports', 'a folder named as a file'],
    ['/t/quiet/', 'a tenant that does not publish'],
    ['/t/nobody/', 'no such tenant'],
    ['/', 'no vhost and no prefix'],
  ])('refuses %s (%s) with 404', async (path, _why) => {
    const res = await get(path);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('outside web/');
  });

  it('refuses a mapped host whose tenant does not publish', async () => {
    expect((await getAs('quiet.example', '/')).status).toBe(404);
  });

  it('closes every file it opens, whatever it answers', async () => {
    const open = () => readdirSync('/proc/self/fd').length;
    const etag = (await get('/t/acme/index.html')).headers.get('etag')!;
    const before = open();
    for (let i = 0; i < 40; i++) {
      await (await get('/t/acme/bytes.bin', { range: 'bytes=500-' })).text(); // 416
      await (await get('/t/acme/index.html', { 'if-none-match': etag })).text(); // 304
      await (await fetch(base + '/t/acme/index.html', { method: 'HEAD' })).text();
      await (await get('/t/acme/escape.txt')).text(); // refused
    }
    expect(open() - before).toBeLessThan(20);
  });

  it('refuses writes', async () => {
    expect((await fetch(base + '/t/acme/index.html', { method: 'PUT', body: 'x' })).status).toBe(405);
  });

  it('answers 503 for a site over its quota', async () => {
    expect((await get('/t/big/')).status).toBe(200);
    writeFileSync(join(dir, 'big', 'web', 'more.bin'), Buffer.alloc(2048));
    expect((await get('/t/big/')).status).toBe(503);
    rmSync(join(dir, 'big', 'web', 'more.bin'));
    expect((await get('/t/big/')).status).toBe(200);
  });

  it('stops serving a removed tenant at once', async () => {
    expect((await get('/t/acme/support/')).status).toBe(200);
    publishing.delete('acme/support');
    // The longest prefix is now acme, whose web/ has no support/ folder.
    expect((await get('/t/acme/support/')).status).toBe(404);
    publishing.add('acme/support');
  });
});
