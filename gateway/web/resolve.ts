// The web listener's decisions, free of I/O: which tenant a request is for (Host header, else the /t/<tenant path>/
// prefix) and which file inside its web/ a URL path names. Anything odd is refused, never normalised into a
// different path: a request either names a plain relative path inside web/ or gets 404/400.

/** What a URL path inside a site names: path segments relative to web/, or a refusal. */
export type PathDecision =
  | { ok: true; segments: string[]; /** The URL ended in "/" (or was empty): serve its index.html. */ directory: boolean }
  | { ok: false; status: 400 | 404; reason: string };

const MAX_SEGMENTS = 32;
const MAX_SEGMENT_BYTES = 255;

/** Resolves the part of a URL path after the site's prefix (starting with "/", query already removed). */
export function resolveSitePath(rawPath: string): PathDecision {
  if (!rawPath.startsWith('/')) return { ok: false, status: 400, reason: 'path must start with "/"' };
  const parts = rawPath.slice(1).split('/');
  const directory = parts[parts.length - 1] === '';
  if (directory) parts.pop();
  if (parts.length > MAX_SEGMENTS) return { ok: false, status: 404, reason: 'too deep' };
  const segments: string[] = [];
  for (const raw of parts) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { ok: false, status: 400, reason: 'bad percent-encoding' };
    }
    if (segment === '') return { ok: false, status: 404, reason: 'empty path segment' };
    // Dot-files and dot-folders (.git, .env, ".." and ".") are never served.
    if (segment.startsWith('.')) return { ok: false, status: 404, reason: 'dot-file or dot-segment' };
    // A decoded separator or NUL would make one URL segment into several path segments.
    if (/[/\\\0]/.test(segment)) return { ok: false, status: 404, reason: 'separator inside a segment' };
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return { ok: false, status: 404, reason: 'segment too long' };
    segments.push(segment);
  }
  return { ok: true, segments, directory };
}

/** Which site a request is for: a tenant and the path inside its site. */
export type SiteDecision = { ok: true; tenant: string; path: string } | { ok: false; reason: string };

export interface SiteTable {
  /** The tenant a host name maps to (lowercase, no port), if any. */
  vhost(host: string): string | undefined;
  /** Whether this tenant exists now and publishes (PERSONA.md `web: true`). */
  publishes(tenant: string): boolean;
}

/** The host name of a Host header: lowercase, without port; null when it is not a plain host name. */
export function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const h = header.trim().toLowerCase();
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, '') : null;
}

/**
 * A mapped host serves its tenant's site at "/". Any other host serves only the path-prefix form
 * /t/<tenant path>/...; tenant paths nest ("acme/support"), so the longest prefix that is a publishing tenant wins.
 */
export function routeSite(host: string | undefined, path: string, table: SiteTable): SiteDecision {
  const name = hostName(host);
  const mapped = name === null ? undefined : table.vhost(name);
  if (mapped !== undefined) {
    return table.publishes(mapped) ? { ok: true, tenant: mapped, path } : { ok: false, reason: 'the tenant does not publish' };
  }
  if (!path.startsWith('/t/')) return { ok: false, reason: 'not a site path' };
  const parts = path.slice(3).split('/');
  for (let n = Math.min(parts.length - 1, 16); n >= 1; n--) {
    const tenant = parts.slice(0, n).join('/');
    if (!/^[a-z0-9_/-]+$/.test(tenant)) continue;
    if (table.publishes(tenant)) return { ok: true, tenant, path: '/' + parts.slice(n).join('/') };
  }
  // "/t/acme" without the slash: send the browser to the folder form so relative links work.
  return { ok: false, reason: 'no publishing tenant at this path' };
}

/** A single byte range of a file of `size` bytes, or null for "serve it all", or 'unsatisfiable'. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return null; // several ranges or another unit: RFC 9110 allows answering with the whole file
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  json: 'application/json',
  txt: 'text/plain; charset=utf-8',
  md: 'text/plain; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  xml: 'application/xml',
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  ico: 'image/x-icon',
  pdf: 'application/pdf',
  woff: 'font/woff',
  woff2: 'font/woff2',
  wasm: 'application/wasm',
  zip: 'application/zip',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
};

/** The Content-Type of a file name; unknown types download as bytes rather than being sniffed. */
export function contentType(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return (dot > 0 && TYPES[fileName.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

/**
 * The default policy: the page's own files only, no framing, and `sandbox` so every page runs in an opaque origin —
 * cookies are not isolated by port, so a different port alone would not keep document.cookie from the API's host.
 */
export const DEFAULT_WEB_CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; " +
  "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'; " +
  'sandbox allow-scripts allow-forms allow-popups allow-downloads';
