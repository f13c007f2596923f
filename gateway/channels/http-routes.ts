// The public HTTP routes of the web-facing channels, as one hono app the gateway's server mounts:
//   POST /hook/<secret>        a webhook delivery -> 202 {id}
//   GET  /chat/<secret>        a chat link: exchanged for a session cookie, then 303 to /chat/
//   GET  /chat/                the chat page (session cookie)
//   GET  /chat/events          the agent's replies as SSE (id: outbox row id; Last-Event-ID resumes)
//   POST /chat/send            {text} with X-CSRF-Token -> 202
// No operator token is involved: a hook secret or a chat link is the whole credential, and reaches one chat.
// Bodies are capped before they are read whole; every error is a short JSON or HTML answer, never a stack.
import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import type { Logger } from '../../core/log.js';
import type { GatedStore } from '../../gated/store.js';
import type { OutboxView } from '../outbox-view.js';
import type { AdapterFactory, ChannelAdapter } from './adapter.js';
import { CHAT_HEADERS, CHAT_SCRIPT, CHAT_STYLE, chatPage, refusedPage } from './web-page.js';
import { sameSecret, WebChatAdapter, type WebSession } from './web.js';
import { HOOK_MAX_BODY, WebhookAdapter, type HookAnswer } from './webhook.js';

export const CHAT_COOKIE = 'warren_chat';
export const CHAT_MAX_BODY = 80 * 1024;

export interface ChannelRoutesDeps {
  webhook: WebhookAdapter;
  web: WebChatAdapter;
  log: Logger;
}

class TooLarge extends Error {}

/** The body, refused past `max` bytes: by Content-Length before reading, and counted while reading. */
export async function readCapped(req: Request, max: number): Promise<Buffer> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > max) throw new TooLarge();
  if (!req.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new TooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

const answer = (c: Context, a: HookAnswer) => c.json(a.body, a.status as 200, a.headers);

export function channelRoutes(deps: ChannelRoutesDeps): Hono {
  const app = new Hono();
  const { webhook, web, log } = deps;

  app.onError((error, c) => {
    if (error instanceof TooLarge) return c.json({ error: 'body too large' }, 413);
    log.error({ err: error, path: c.req.path.replace(/wrn_[A-Za-z0-9_-]+/g, 'wrn_…') }, 'channel route failed');
    return c.json({ error: 'internal error; see the gateway log' }, 500);
  });
  app.notFound((c) => c.json({ error: 'not found' }, 404));

  // ---- webhooks
  app.post('/hook/:secret', async (c) => {
    const secret = c.req.param('secret');
    const limited = webhook.rateLimit(secret);
    if (limited) return answer(c, limited);
    let body: Buffer;
    try {
      body = await readCapped(c.req.raw, HOOK_MAX_BODY);
    } catch (error) {
      if (error instanceof TooLarge) return c.json({ error: `body larger than ${HOOK_MAX_BODY} bytes` }, 413);
      throw error;
    }
    return answer(c, await webhook.receive(secret, c.req.header('content-type'), c.req.header('x-hub-signature-256'), body));
  });
  app.all('/hook/*', (c) => c.json({ error: 'webhooks take POST /hook/<token>' }, 405));

  // ---- web chat
  const refuse = (c: Context, status: 401 | 403 | 404, message: string) => {
    for (const [k, v] of Object.entries(CHAT_HEADERS)) c.header(k, v);
    return c.html(refusedPage(message), status);
  };
  const sessionOf = (c: Context): WebSession | null => web.session(getCookie(c, CHAT_COOKIE));

  app.use('/chat/*', async (c, next) => {
    await next();
    for (const [k, v] of Object.entries(CHAT_HEADERS)) if (!c.res.headers.has(k)) c.res.headers.set(k, v);
  });

  app.get('/chat/app.js', (c) => c.body(CHAT_SCRIPT, 200, { 'content-type': 'text/javascript; charset=utf-8' }));
  app.get('/chat/app.css', (c) => c.body(CHAT_STYLE, 200, { 'content-type': 'text/css; charset=utf-8' }));

  app.get('/chat/', (c) => {
    const session = sessionOf(c);
    if (!session) return refuse(c, 401, 'Open the chat link you were given again; this one is wrong, expired or revoked.');
    return c.html(chatPage({ chat: session.chat, csrf: session.csrf }));
  });

  app.post('/chat/send', async (c) => {
    const session = sessionOf(c);
    if (!session) return c.json({ error: 'this chat session has ended; open your chat link again' }, 401);
    const csrf = c.req.header('x-csrf-token');
    if (!csrf || !sameSecret(csrf, session.csrf)) return c.json({ error: 'missing or wrong CSRF token; reload the page' }, 403);
    if (!/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return c.json({ error: 'send JSON' }, 415);
    let parsed: unknown;
    try {
      parsed = JSON.parse((await readCapped(c.req.raw, CHAT_MAX_BODY)).toString('utf8'));
    } catch (error) {
      if (error instanceof TooLarge) throw error;
      return c.json({ error: 'body is not valid JSON' }, 400);
    }
    const text = (parsed as { text?: unknown } | null)?.text;
    if (typeof text !== 'string' || text.trim().length === 0) return c.json({ error: 'text is required' }, 400);
    if (web.status().state !== 'connected') return c.json({ error: 'the web chat is not running; try again soon' }, 503);
    const outcome = await web.send(session, text);
    if (outcome.kind === 'dropped') return c.json({ error: `not delivered to any agent: ${outcome.reason}` }, 422);
    return c.json({ outcome: outcome.kind }, 202);
  });

  app.get('/chat/events', (c) => {
    const session = sessionOf(c);
    if (!session) return c.json({ error: 'this chat session has ended; open your chat link again' }, 401);
    const last = Number(c.req.header('last-event-id') ?? 0);
    let cursor = Number.isSafeInteger(last) && last > 0 ? last : 0;
    return streamSSE(c, async (stream) => {
      let wake: (() => void) | null = null;
      let ended = false;
      const unlisten = web.listen(session.chat, (reason) => {
        if (reason === 'end') ended = true;
        wake?.();
      });
      stream.onAbort(() => {
        ended = true;
        wake?.();
      });
      try {
        await stream.writeSSE({ event: 'ready', data: '{}', retry: 1000 });
        while (!ended && !stream.aborted) {
          if (!web.session(session.id)) {
            await stream.writeSSE({ event: 'end', data: JSON.stringify({ message: 'This chat link has been revoked or has expired.' }) });
            break;
          }
          const { replies, next } = web.replies(session, cursor);
          for (const r of replies) await stream.writeSSE({ event: 'reply', id: String(r.id), data: JSON.stringify(r) });
          cursor = next;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, web.pollMs);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = null;
        }
      } finally {
        unlisten();
      }
    });
  });

  app.get('/chat/:secret', (c) => {
    const session = web.openLink(c.req.param('secret'));
    if (!session) return refuse(c, 404, 'This chat link is wrong, has expired or has been revoked. Ask for a new one.');
    setCookie(c, CHAT_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/chat',
      secure: new URL(c.req.url).protocol === 'https:',
    });
    // The secret leaves the address bar (and so never reaches a Referer or the history) right away.
    return c.redirect('/chat/', 303);
  });

  return app;
}

/**
 * The web-facing channels of one gateway: both adapters, the factories the channel hub starts them from (each
 * installation-wide, so create() hands out the one instance), and the routes that serve them.
 */
export function webChannels(deps: { store: GatedStore; outbox: OutboxView; log: Logger }): {
  webhook: WebhookAdapter;
  web: WebChatAdapter;
  factories: AdapterFactory[];
  routes: Hono;
} {
  const webhook = new WebhookAdapter({ store: deps.store, log: deps.log.child({ channel: 'hook' }) });
  const web = new WebChatAdapter({ store: deps.store, outbox: deps.outbox, log: deps.log.child({ channel: 'web' }) });
  const factory = (adapter: ChannelAdapter): AdapterFactory => ({ prefix: adapter.identity.prefix, scope: 'installation', create: () => adapter });
  return { webhook, web, factories: [factory(webhook), factory(web)], routes: channelRoutes({ webhook, web, log: deps.log }) };
}
