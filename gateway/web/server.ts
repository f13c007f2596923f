// The web listener: tenants' web/ folders as static sites, on their own port (WARREN_WEB_PORT), apart from the API
// and dashboard. It only reads: GET and HEAD, no cookies set, no query strings logged at info level.
import { closeSync, createReadStream, readSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Logger } from '../../core/log.js';
import { WEB_DIR } from '../../core/tree/layout.js';
import { folderBytes, openInside } from './files.js';
import { contentType, DEFAULT_WEB_CSP, parseRange, resolveSitePath, routeSite, type SiteTable } from './resolve.js';

export interface WebSites extends SiteTable {
  /** The tenant's folder (its web/ lies inside), for a tenant that publishes. */
  tenantDir(tenant: string): string | undefined;
}

export interface WebServerOptions {
  sites: WebSites;
  /** Bytes a tenant's web/ may hold; a site past it answers 503 until it is back under (docs/web.md). */
  quotaBytes: number;
  csp?: string;
  log: Logger;
  /** How long a measured web/ size is trusted (default 10 s). */
  quotaCacheMs?: number;
}

const SMALL_FILE_BYTES = 64 * 1024;

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

export function createWebServer(options: WebServerOptions): Server {
  const csp = options.csp ?? DEFAULT_WEB_CSP;
  const cacheMs = options.quotaCacheMs ?? 10_000;
  const sizes = new Map<string, { bytes: number; at: number }>();

  async function overQuota(tenant: string, webDir: string): Promise<boolean> {
    const known = sizes.get(tenant);
    if (known && Date.now() - known.at < cacheMs) return known.bytes > options.quotaBytes;
    const bytes = await folderBytes(webDir, options.quotaBytes);
    sizes.set(tenant, { bytes, at: Date.now() });
    return bytes > options.quotaBytes;
  }

  function plain(res: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Security-Policy': csp, 'Content-Type': 'text/plain; charset=utf-8', ...extra });
    res.end(text + '\n');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return plain(res, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    const site = routeSite(req.headers.host, path, options.sites);
    const tenantDir = site.ok ? options.sites.tenantDir(site.tenant) : undefined;
    if (!site.ok || tenantDir === undefined) {
      options.log.debug({ path, reason: site.ok ? 'gone' : site.reason }, 'no site');
      return plain(res, 404, 'not found');
    }
    const reqLog = options.log.child({ tenant: site.tenant });
    const done = (status: number, extra: Record<string, unknown> = {}) =>
      reqLog.info({ method, path, status, ...extra }, 'web request'); // the query string stays out
    const decision = resolveSitePath(site.path);
    if (!decision.ok) {
      done(decision.status, { refused: decision.reason });
      return plain(res, decision.status, decision.status === 400 ? 'bad request' : 'not found');
    }
    const webDir = join(tenantDir, WEB_DIR);
    if (await overQuota(site.tenant, webDir)) {
      done(503, { refused: 'over quota' });
      return plain(res, 503, 'this site is over its size quota');
    }
    const opened = await openInside(webDir, decision.segments, decision.directory);
    if (!opened.ok) {
      done(404, { refused: opened.reason });
      return plain(res, 404, 'not found');
    }
    const { fd, stat, name } = opened;
    let held = true; // until closed here, or handed to the read stream
    const close = () => {
      if (held) closeSync(fd);
      held = false;
    };
    try {
      const etag = `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}-${stat.ino.toString(16)}"`;
      const headers: Record<string, string | number> = {
        ...SECURITY_HEADERS,
        'Content-Security-Policy': csp,
        'Content-Type': contentType(name),
        ETag: etag,
        'Last-Modified': stat.mtime.toUTCString(),
        'Accept-Ranges': 'bytes',
        'Cache-Control': 'no-cache',
      };
      const inm = req.headers['if-none-match'];
      if (inm && inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*')) {
        close();
        res.writeHead(304, headers);
        res.end();
        done(304);
        return;
      }
      let range = parseRange(req.headers.range, stat.size);
      const ifRange = req.headers['if-range'];
      if (range && ifRange !== undefined && ifRange !== etag) range = null;
      if (range === 'unsatisfiable') {
        close();
        done(416);
        return plain(res, 416, 'range not satisfiable', { 'Content-Range': `bytes */${stat.size}` });
      }
      const start = range ? range.start : 0;
      const end = range ? range.end : stat.size - 1;
      headers['Content-Length'] = stat.size === 0 ? 0 : end - start + 1;
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${stat.size}`;
      res.writeHead(range ? 206 : 200, headers);
      if (method === 'HEAD' || stat.size === 0) {
        close();
        res.end();
        done(range ? 206 : 200);
        return;
      }
      if (end - start + 1 <= SMALL_FILE_BYTES) {
        // Small files in one read and one write: a stream costs more than the file.
        const buffer = Buffer.alloc(end - start + 1);
        const bytesRead = readSync(fd, buffer, 0, buffer.length, start);
        close();
        if (bytesRead !== buffer.length) {
          res.destroy(); // the file shrank under us: never send a body shorter than its Content-Length
          return;
        }
        res.end(buffer);
        done(range ? 206 : 200, { bytes: bytesRead });
        return;
      }
      held = false;
      const stream = createReadStream('', { fd, start, end, autoClose: true });
      stream.pipe(res);
      stream.on('error', (error) => {
        reqLog.warn({ err: error, path }, 'web read failed');
        res.destroy();
      });
      done(range ? 206 : 200, { bytes: end - start + 1 });
      return; // the stream closes the file
    } catch (error) {
      close();
      throw error;
    }
  }

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log.error({ err: error }, 'web request failed');
      if (!res.headersSent) plain(res, 500, 'internal error');
      else res.destroy();
    });
  });
}
