// The webhook channel: `POST /hook/<secret>` turns a request body into an inbound message on the hook's chat
// (`hook:<name>`). Tokens come from issue_token(kind=webhook) or `warren hooks issue`. A webhook has no way back:
// replies to a hook chat are kept in the outbox (`warren messages`, the API) and marked delivered nowhere.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../core/log.js';
import type { GatedStore } from '../../gated/store.js';
import { MAX_TEXT } from '../../gated/tools/messaging.js';
import { hashToken, openHmacKey } from '../../gated/tools/tokens.js';
import type { AdapterIdentity, AdapterStatus, ChannelAdapter, DeliveryOutcome, InboundSink, OutboundItem } from './adapter.js';
import { redeemToken } from './redeem.js';

export const HOOK_MAX_BODY = 64 * 1024;

/** An HTTP answer as plain data, so the decisions here are tested without a server. */
export interface HookAnswer {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** The answer for a token that is unknown, expired or revoked: the same for all three, so tokens cannot be probed. */
export const NO_HOOK: HookAnswer = { status: 404, body: { error: 'no such webhook' } };

/**
 * The message text of a hook body, or the HTTP answer refusing it. JSON is pretty-printed (so an agent reads it
 * easily) and text kept as is; either is cut at MAX_TEXT with a note saying so.
 */
export function hookBodyText(contentType: string | undefined, body: Buffer): { text: string } | HookAnswer {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let text: string;
  if (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))) {
    try {
      text = JSON.stringify(JSON.parse(body.toString('utf8')), null, 2);
    } catch {
      return { status: 400, body: { error: 'body is not valid JSON' } };
    }
  } else if (type === 'text/plain') {
    text = body.toString('utf8');
  } else {
    return { status: 415, body: { error: 'send application/json or text/plain' } };
  }
  if (text.trim().length === 0) return { status: 400, body: { error: 'body is empty' } };
  const note = '\n[... cut: the webhook body was longer than a message may be]';
  return { text: text.length > MAX_TEXT ? text.slice(0, MAX_TEXT - note.length) + note : text };
}

/** GitHub's `X-Hub-Signature-256: sha256=<hex>` over the raw body, compared in constant time. */
export function signatureMatches(key: string, body: Buffer, header: string | undefined): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const expected = createHmac('sha256', key).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(header.slice(7), 'hex'));
}

export function signBody(key: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/** A token bucket per key: `burst` requests at once, refilled at `perSecond`. Keys past `maxKeys` evict the oldest. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** 0 when allowed (and counted), else the milliseconds until the next request would be. */
  take(key: string, now: number): number {
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.delete(key);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.perSecond) * 1000);
  }
}

export interface WebhookDeps {
  store: GatedStore;
  log: Logger;
  /** Per hook: requests at once and per second after that. Default 20 and 1. */
  rate?: { burst: number; perSecond: number };
  now?: () => number;
}

export class WebhookAdapter implements ChannelAdapter {
  readonly identity: AdapterIdentity = { prefix: 'hook', world: null };
  private sink: InboundSink | null = null;
  private since = new Date().toISOString();
  private readonly limiter;
  private readonly now;

  constructor(private readonly deps: WebhookDeps) {
    this.limiter = new RateLimiter(deps.rate?.burst ?? 20, deps.rate?.perSecond ?? 1);
    this.now = deps.now ?? Date.now;
  }

  async start(sink: InboundSink): Promise<void> {
    this.sink = sink;
    this.since = new Date().toISOString();
  }

  /** A webhook has no way back: the row stays in the outbox for `warren messages` and the API, delivered nowhere. */
  async deliver(_item: OutboundItem): Promise<DeliveryOutcome> {
    return { ok: true, platformMessageId: null };
  }

  status(): AdapterStatus {
    return { state: this.sink ? 'connected' : 'stopped', error: null, since: this.since };
  }

  async stop(): Promise<void> {
    this.sink = null;
    this.since = new Date().toISOString();
  }

  /** Whether a request for this secret may proceed now (checked before the body is read). */
  rateLimit(secret: string): HookAnswer | null {
    // Keyed by the hash, so no secret is kept in memory; unknown secrets are limited too (probing costs the same).
    const wait = this.limiter.take(hashToken(secret), this.now());
    if (wait === 0) return null;
    return { status: 429, body: { error: 'too many requests for this webhook' }, headers: { 'retry-after': String(Math.ceil(wait / 1000)) } };
  }

  /** One request: token, signature, body, then the inbound path. Answers 202 once the message is stored. */
  async receive(secret: string, contentType: string | undefined, signature: string | undefined, body: Buffer): Promise<HookAnswer> {
    const sink = this.sink;
    if (!sink) return { status: 503, body: { error: 'webhooks are not running' } };
    const token = redeemToken(this.deps.store, 'webhook', secret, this.now());
    if (!token) return NO_HOOK;
    if (token.hmac !== null) {
      const key = openHmacKey(secret, token.hmac);
      if (key === null) {
        this.deps.log.error({ token: token.id }, 'webhook HMAC key does not open; refusing its requests');
        return { status: 500, body: { error: 'this webhook cannot verify signatures; issue a new one' } };
      }
      if (!signatureMatches(key, body, signature)) {
        return { status: 401, body: { error: 'missing or wrong X-Hub-Signature-256 (sha256=<hex HMAC of the body>)' } };
      }
    }
    const parsed = hookBodyText(contentType, body);
    if ('status' in parsed) return parsed;
    const outcome = await sink.receive(
      {
        chat: token.target,
        thread: null,
        sender: { id: token.target, name: `webhook ${token.id}` },
        text: parsed.text,
        platformMessageId: null,
        replyTo: null,
        direct: true,
        mentioned: true,
        command: null,
      },
      this.identity,
    );
    this.deps.log.info({ token: token.id, chat: token.target, outcome: outcome.kind }, 'webhook received');
    switch (outcome.kind) {
      case 'stored':
        return { status: 202, body: { id: outcome.messages[0]?.id ?? null, messages: outcome.messages } };
      case 'accumulated':
      case 'pending-approval':
        return { status: 202, body: { id: null, outcome: outcome.kind } };
      case 'handled':
        return { status: 200, body: { id: null, outcome: 'handled', reply: outcome.reply } };
      case 'dropped':
        return { status: 422, body: { error: `not delivered to any agent: ${outcome.reason}` } };
    }
  }
}
