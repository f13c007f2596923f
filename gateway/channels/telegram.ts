// The Telegram adapter: one bot per world, on grammY's long polling. Decisions (what an update means, how a failure
// is treated) are in telegram-updates.ts; this file talks to the Bot API.
//
// An update is acknowledged only after the sink stored it. grammY records an update as tried before running the
// middleware and confirms it with the next getUpdates call, whether or not the middleware succeeded; its default
// error handler even calls stop(), which confirms it at once. So the middleware does not return until the sink
// resolved (retrying a failing sink with backoff: no getUpdates call is made meanwhile), and the error handler
// rethrows instead of stopping, so a sink still failing when the adapter stops ends grammY's loop without any
// further getUpdates: the update stays unconfirmed and Telegram delivers it again on the next start.
//
// The token is part of every request URL. Nothing raw from grammY is logged or reported: messages are scrubbed.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { Api, Bot, GrammyError, HttpError, InputFile } from 'grammy';
import type { Logger } from '../../core/log.js';
import type {
  AdapterContext, AdapterFactory, AdapterIdentity, AdapterStatus, ChannelAdapter, DeliveryOutcome, InboundSink, OutboundItem,
} from './adapter.js';
import {
  deliveryOutcome, normaliseUpdate, pollingVerdict, splitText, TELEGRAM_CAPTION_LIMIT, type ApiFailure, type BotIdentity,
} from './telegram-updates.js';

export const TELEGRAM_API_ROOT_ENV = 'WARREN_TELEGRAM_API_ROOT';
export const DEFAULT_TELEGRAM_API_ROOT = 'https://api.telegram.org';

export interface TelegramOptions {
  /** getUpdates long-poll timeout in seconds (Telegram's usual 30). */
  pollTimeoutSeconds?: number;
  /** How many times a 409 Conflict is retried before the adapter stays in error. */
  maxConflictRetries?: number;
  /** First backoff after a polling failure; doubles per consecutive 409. */
  backoffMs?: number;
  /** Backoff between attempts of a failing sink (first, cap). */
  sinkRetryMs?: { first: number; max: number };
  /** Time limit of one delivery request. */
  requestTimeoutMs?: number;
}

const DEFAULTS: Required<TelegramOptions> = {
  pollTimeoutSeconds: 30,
  maxConflictRetries: 5,
  backoffMs: 5000,
  sinkRetryMs: { first: 200, max: 30_000 },
  requestTimeoutMs: 30_000,
};

export function telegramFactory(options: TelegramOptions = {}): AdapterFactory {
  return {
    prefix: 'tg',
    scope: 'world',
    credential: 'telegram',
    create: (context) => new TelegramAdapter(context, { ...DEFAULTS, ...options }),
  };
}

export const telegram = telegramFactory();

/** The API root from the environment, without the trailing slash grammY refuses. */
export function telegramApiRoot(env: NodeJS.ProcessEnv): string {
  const raw = env[TELEGRAM_API_ROOT_ENV]?.trim();
  return (raw ? raw : DEFAULT_TELEGRAM_API_ROOT).replace(/\/+$/, '');
}

type GrammySignal = NonNullable<Parameters<Api['getMe']>[0]>;

class StoppedBeforeStored extends Error {}

class TelegramAdapter implements ChannelAdapter {
  readonly identity: AdapterIdentity;
  private readonly token: string;
  private readonly apiRoot: string;
  private readonly log: Logger;
  private readonly api: Api;
  private state: AdapterStatus = { state: 'stopped', error: null, since: new Date().toISOString() };
  private sink: InboundSink | null = null;
  private bot: Bot | null = null;
  private me: BotIdentity | null = null;
  private polling: Promise<void> | null = null;
  private inFlight: Promise<void> | null = null;
  private stopping = false;
  private conflicts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private wakeSinkRetry: (() => void) | null = null;

  constructor(context: AdapterContext, private readonly opts: Required<TelegramOptions>) {
    if (!context.credential) throw new Error(`world ${context.world ?? '?'} has no telegram bot token`);
    this.identity = { prefix: 'tg', world: context.world };
    this.token = context.credential;
    this.apiRoot = telegramApiRoot(context.env);
    this.log = context.log.child({ adapter: 'tg', world: context.world });
    this.api = new Api(this.token, { apiRoot: this.apiRoot });
  }

  async start(sink: InboundSink): Promise<void> {
    this.sink = sink;
    this.stopping = false;
    this.setState('starting', null);
    this.poll();
  }

  status(): AdapterStatus {
    return { ...this.state };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.wakeSinkRetry?.();
    const bot = this.bot;
    // An update whose sink call is still running: wait for it. Stored, it is confirmed by grammY's stop(); not
    // stored, grammY's loop ends on the rethrown error and stop() must not be called (it would confirm it).
    const inFlight = this.inFlight;
    if (inFlight && !(await settlesWithin(inFlight, 5000))) {
      void inFlight.then(() => stopBot(bot), () => undefined);
    } else if (inFlight) {
      await inFlight.then(() => stopBot(bot), () => undefined);
    } else {
      await stopBot(bot);
    }
    if (this.polling) await settlesWithin(this.polling, 5000);
    this.setState('stopped', null);
  }

  async deliver(item: OutboundItem): Promise<DeliveryOutcome> {
    const chatId = /^tg:(-?\d+)$/.exec(item.chat)?.[1];
    if (!chatId) return { ok: false, retryable: false, error: `not a Telegram chat id: ${item.chat}` };
    const thread = item.thread !== null && /^\d+$/.test(item.thread) ? Number(item.thread) : undefined;
    const where = thread !== undefined ? { message_thread_id: thread } : {};
    // grammY types its signal with the abort-controller polyfill; Node's own AbortSignal is what it uses at runtime.
    const signal = () => AbortSignal.timeout(this.opts.requestTimeoutMs) as unknown as GrammySignal;
    const target = item.replyTo !== null && /^\d+$/.test(item.replyTo) ? Number(item.replyTo) : null;
    let sent = 0;
    try {
      switch (item.kind) {
        case 'message':
        case 'reply': {
          if (!item.text) return { ok: false, retryable: false, error: 'nothing to send: the message has no text' };
          // A reply whose original id is unknown still reaches the chat (and topic), just not threaded to a message.
          const parts = splitText(item.text);
          let first: number | null = null;
          for (const [i, text] of parts.entries()) {
            const reply = i === 0 && target !== null ? { reply_parameters: { message_id: target, allow_sending_without_reply: true } } : {};
            const m = await this.api.sendMessage(chatId, text, { ...where, ...reply }, signal());
            first ??= m.message_id;
            sent++;
          }
          return { ok: true, platformMessageId: String(first) };
        }
        case 'like': {
          if (target === null) return { ok: false, retryable: false, error: 'a reaction without the message it reacts to' };
          if (!item.reaction) return { ok: false, retryable: false, error: 'a reaction without an emoji' };
          await this.api.setMessageReaction(chatId, target, [{ type: 'emoji', emoji: item.reaction } as never], {}, signal());
          return { ok: true, platformMessageId: null };
        }
        case 'file': {
          if (!item.filePath || !existsSync(item.filePath)) return { ok: false, retryable: false, error: 'the file to send is gone' };
          const text = item.text ?? '';
          const caption = text.length > 0 && text.length <= TELEGRAM_CAPTION_LIMIT ? { caption: text } : {};
          const m = await this.api.sendDocument(chatId, new InputFile(item.filePath, basename(item.filePath)), { ...where, ...caption }, signal());
          sent++;
          if (text.length > TELEGRAM_CAPTION_LIMIT) {
            for (const part of splitText(text)) await this.api.sendMessage(chatId, part, where, signal());
          }
          return { ok: true, platformMessageId: String(m.message_id) };
        }
      }
    } catch (error) {
      const outcome = deliveryOutcome(this.failureOf(error));
      if (outcome.revoked) this.revoked();
      this.log.warn({ outbox: item.id, error: outcome.error }, 'telegram delivery failed');
      const { revoked: _, ...result } = outcome;
      // Parts already on Telegram would be sent again by a retry: a reader sees a cut message rather than a repeat.
      if (sent > 0) return { ok: false, retryable: false, error: `sent ${sent} part(s) before: ${result.error}` };
      return result;
    }
  }

  // --- polling ------------------------------------------------------------------------------------------------

  private poll(): void {
    // A getUpdates that never answers (a stuck proxy) ends a little after the poll timeout, and grammY polls again.
    const timeoutSeconds = this.opts.pollTimeoutSeconds + 5;
    const bot = new Bot(this.token, { client: { apiRoot: this.apiRoot, timeoutSeconds } });
    // Every getUpdates that answers means polling works: connected, and the 409 count starts over. grammY retries
    // network failures and 5xx answers of getUpdates itself, forever; they show in status meanwhile.
    bot.api.config.use(async (prev, method, payload, signal) => {
      if (method !== 'getUpdates') return prev(method, payload, signal);
      try {
        const result = await prev(method, payload, signal);
        if (this.stopping || this.bot !== bot) return result;
        if (result.ok) {
          this.conflicts = 0;
          this.setState('connected', null);
        } else if (result.error_code !== 401 && result.error_code !== 409) {
          this.setState('error', `Telegram answered ${result.error_code}: ${result.description}; retrying`);
        }
        return result;
      } catch (error) {
        if (!this.stopping && this.bot === bot) {
          const failure = this.failureOf(error);
          this.setState('error', `cannot reach the Bot API at ${this.apiRoot}: ${failure.kind === 'answer' ? failure.description : failure.message}; retrying`);
        }
        throw error;
      }
    });
    bot.use(async (ctx) => {
      const job = this.receive(ctx.update);
      this.inFlight = job;
      try {
        await job;
      } finally {
        this.inFlight = null;
      }
    });
    // Rethrow rather than stop(): stop() would confirm the update the sink did not store.
    bot.catch((err) => {
      throw err;
    });
    this.bot = bot;
    this.polling = bot
      .start({
        allowed_updates: ['message'],
        timeout: this.opts.pollTimeoutSeconds,
        onStart: (me) => {
          this.me = { id: me.id, username: me.username };
          this.log.info({ bot: me.username }, 'telegram polling started');
        },
      })
      .then(
        () => undefined,
        (error: unknown) => this.pollingEnded(error),
      );
  }

  private async receive(update: unknown): Promise<void> {
    const me = this.me;
    if (!me || !this.sink) throw new Error('update before the bot was initialised');
    const n = normaliseUpdate(update, me);
    const updateId = (update as { update_id?: unknown }).update_id;
    if (n.kind === 'ignore') {
      this.log.debug({ update: updateId, reason: n.reason }, 'telegram update ignored');
      return;
    }
    let delay = this.opts.sinkRetryMs.first;
    for (;;) {
      if (this.stopping) throw new StoppedBeforeStored('stopped before the update was stored');
      try {
        const outcome = await this.sink.receive(n.event, this.identity);
        this.log.debug({ update: updateId, chat: n.event.chat, outcome: outcome.kind }, 'telegram update received');
        return;
      } catch (error) {
        if (this.stopping) throw new StoppedBeforeStored('stopped before the update was stored');
        this.log.warn({ update: updateId, error: this.scrub((error as Error).message), retryInMs: delay }, 'inbound sink failed; the update stays unconfirmed');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wakeSinkRetry = () => (clearTimeout(t), resolve());
        });
        this.wakeSinkRetry = null;
        delay = Math.min(delay * 2, this.opts.sinkRetryMs.max);
      }
    }
  }

  private pollingEnded(error: unknown): void {
    if (this.stopping) return;
    const failure = this.failureOf(error);
    if (failure.kind === 'answer' && failure.code === 409) this.conflicts++;
    const verdict = pollingVerdict(failure, { conflicts: this.conflicts, maxConflicts: this.opts.maxConflictRetries, baseMs: this.opts.backoffMs });
    this.setState('error', verdict.error);
    if (verdict.kind !== 'retry') {
      this.log.error({ error: verdict.error }, 'telegram polling stopped');
      return;
    }
    this.log.warn({ error: verdict.error, retryInMs: verdict.afterMs }, 'telegram polling failed; retrying');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.poll();
    }, verdict.afterMs);
  }

  /** A 401 on delivery: the token is no longer valid, so polling stops too, with the reason in status. */
  private revoked(): void {
    const verdict = pollingVerdict({ kind: 'answer', code: 401, description: 'Unauthorized' }, { conflicts: 0, maxConflicts: 0, baseMs: 0 });
    this.setState('error', verdict.error);
    this.stopping = true; // no restart; deliberate operator action (a new token, a restart) is needed
    void stopBot(this.bot);
  }

  private failureOf(error: unknown): ApiFailure {
    const e = error instanceof Error && 'error' in error && error.name === 'BotError' ? (error as { error: unknown }).error : error;
    if (e instanceof GrammyError) {
      return { kind: 'answer', code: e.error_code, description: this.scrub(e.description), retryAfter: e.parameters.retry_after };
    }
    if (e instanceof HttpError) {
      const cause = e.error instanceof Error ? e.error.message : String(e.error);
      return { kind: 'network', message: this.scrub(`${e.message} ${cause}`) };
    }
    return { kind: 'local', message: this.scrub(e instanceof Error ? e.message : String(e)) };
  }

  /** The token (raw and URL-encoded) out of any text that may leave the adapter. */
  private scrub(text: string): string {
    return text.split(this.token).join('[telegram-token]').split(encodeURIComponent(this.token)).join('[telegram-token]');
  }

  private setState(state: AdapterStatus['state'], error: string | null): void {
    if (this.state.state === state && this.state.error === error) return;
    this.state = { state, error: error === null ? null : this.scrub(error), since: new Date().toISOString() };
  }
}

async function stopBot(bot: Bot | null): Promise<void> {
  if (!bot?.isRunning()) return;
  await settlesWithin(bot.stop(), 5000);
}

/** Waits for a promise up to `ms`; true when it settled (either way). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
