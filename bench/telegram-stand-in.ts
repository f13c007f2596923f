// A stand-in for the Telegram Bot API on 127.0.0.1, speaking the protocol as documented
// (https://core.telegram.org/bots/api): POST /bot<token>/<method> with a JSON or multipart body, answered with
// {ok:true,result} or {ok:false,error_code,description,parameters?}. It keeps an update queue the way Telegram does:
// getUpdates returns updates with update_id >= offset and a call with a higher offset confirms (forgets) the ones
// below it; with none pending it holds the request up to `timeout` seconds. Tests push updates, script failures per
// method, revoke the token, and read every call it received. It lives under bench/ so that both the tests and
// `npm run bench:channels` can use it (tsconfig.json builds bench/, never test/).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInCall {
  method: string;
  /** JSON body, or the multipart fields (a file field becomes { filename, size, text }). */
  params: Record<string, unknown>;
}

export type ScriptedFailure =
  | { code: number; description: string; retryAfter?: number }
  /** Never answers (the client's own timeout must end the call). */
  | 'hang';

export interface StandInOptions {
  token: string;
  username?: string;
  botId?: number;
  /** Told of every call as it arrives, before it is answered (the benchmark times deliveries with it). */
  onCall?: (call: StandInCall) => void;
}

export interface TelegramStandIn {
  apiRoot: string;
  token: string;
  botId: number;
  username: string;
  calls: StandInCall[];
  /** Queues an update (update_id assigned when missing) and wakes a held getUpdates. Returns its update_id. */
  push(update: Record<string, unknown>): number;
  /** The next getUpdates offset the client confirmed: every update below it is forgotten. */
  confirmedBelow(): number;
  /** Updates still pending (not confirmed). */
  pending(): number[];
  /** The next `times` calls of `method` fail this way. */
  fail(method: string, failure: ScriptedFailure, times?: number): void;
  /** Every call from now on answers 401 Unauthorized, including a held getUpdates. */
  revoke(): void;
  callsOf(method: string): StandInCall[];
  close(): Promise<void>;
}

interface Waiter {
  res: ServerResponse;
  offset: number;
  limit: number;
  timer: NodeJS.Timeout;
}

export async function startTelegramStandIn(opts: StandInOptions): Promise<TelegramStandIn> {
  const username = opts.username ?? 'warren_test_bot';
  const botId = opts.botId ?? 4242;
  const queue: Record<string, unknown>[] = [];
  const calls: StandInCall[] = [];
  const failures = new Map<string, ScriptedFailure[]>();
  const waiters = new Set<Waiter>();
  const hanging = new Set<ServerResponse>();
  let nextUpdateId = 1000;
  let nextMessageId = 1;
  let confirmed = 0;
  let allowed: string[] = [];
  let revoked = false;

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const ok = (res: ServerResponse, result: unknown): void => send(res, 200, { ok: true, result });
  const error = (res: ServerResponse, code: number, description: string, parameters?: Record<string, unknown>): void =>
    send(res, code, { ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });

  const updateType = (u: Record<string, unknown>): string | undefined => Object.keys(u).find((k) => k !== 'update_id');
  const available = (offset: number, limit: number): Record<string, unknown>[] =>
    queue
      .filter((u) => (u.update_id as number) >= offset)
      .filter((u) => allowed.length === 0 || allowed.includes(updateType(u) ?? ''))
      .slice(0, limit);

  const confirm = (offset: number): void => {
    if (offset > confirmed) confirmed = offset;
    for (let i = queue.length - 1; i >= 0; i--) if ((queue[i]!.update_id as number) < confirmed) queue.splice(i, 1);
  };

  const wake = (): void => {
    for (const w of [...waiters]) {
      const batch = available(w.offset, w.limit);
      if (batch.length === 0 && !revoked) continue;
      clearTimeout(w.timer);
      waiters.delete(w);
      if (revoked) error(w.res, 401, 'Unauthorized');
      else ok(w.res, batch);
    }
  };

  const getUpdates = (res: ServerResponse, p: Record<string, unknown>): void => {
    const offset = typeof p.offset === 'number' ? p.offset : 0;
    const limit = typeof p.limit === 'number' ? Math.min(Math.max(p.limit, 1), 100) : 100;
    const timeout = typeof p.timeout === 'number' ? p.timeout : 0;
    if (Array.isArray(p.allowed_updates)) allowed = p.allowed_updates as string[]; // Telegram remembers the last list
    confirm(offset);
    const batch = available(offset, limit);
    if (batch.length > 0 || timeout <= 0) return ok(res, batch);
    const w: Waiter = { res, offset, limit, timer: setTimeout(() => (waiters.delete(w), ok(res, [])), timeout * 1000) };
    waiters.add(w);
    res.on('close', () => (clearTimeout(w.timer), waiters.delete(w)));
  };

  const message = (p: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    message_id: nextMessageId++,
    date: Math.floor(Date.now() / 1000),
    chat: { id: Number(p.chat_id), type: Number(p.chat_id) < 0 ? 'supergroup' : 'private' },
    ...(p.message_thread_id !== undefined ? { message_thread_id: p.message_thread_id } : {}),
    ...extra,
  });

  const handle = (method: string, p: Record<string, unknown>, res: ServerResponse): void => {
    calls.push({ method, params: p });
    opts.onCall?.({ method, params: p });
    if (revoked) return error(res, 401, 'Unauthorized');
    const scripted = failures.get(method);
    const failure = scripted?.shift();
    if (failure === 'hang') return void hanging.add(res);
    if (failure) return error(res, failure.code, failure.description, failure.retryAfter !== undefined ? { retry_after: failure.retryAfter } : undefined);
    switch (method) {
      case 'getMe':
        return ok(res, { id: botId, is_bot: true, first_name: 'Warren Test', username });
      case 'deleteWebhook':
        return ok(res, true);
      case 'getUpdates':
        return getUpdates(res, p);
      case 'sendMessage':
        if (typeof p.text !== 'string' || p.text.length === 0) return error(res, 400, 'Bad Request: message text is empty');
        if (p.text.length > 4096) return error(res, 400, 'Bad Request: message is too long');
        if (!Number.isFinite(Number(p.chat_id))) return error(res, 400, 'Bad Request: chat not found');
        return ok(res, message(p, { text: p.text }));
      case 'sendDocument': {
        const doc = p.document as { filename?: string } | undefined;
        if (!doc || typeof doc !== 'object') return error(res, 400, 'Bad Request: there is no document in the request');
        return ok(res, message(p, { document: { file_name: doc.filename } }));
      }
      case 'setMessageReaction':
        return ok(res, true);
      default:
        return error(res, 404, 'Not Found');
    }
  };

  const server: Server = createServer((req, res) => {
    void route(req, res).catch((e: unknown) => error(res, 500, `stand-in: ${(e as Error).message}`));
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url ?? '');
    if (!m || req.method !== 'POST') return error(res, 404, 'Not Found');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (decodeURIComponent(m[1]!) !== opts.token) {
      calls.push({ method: m[2]!, params: {} });
      return error(res, 401, 'Unauthorized');
    }
    handle(m[2]!, await parseBody(req, body), res);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    token: opts.token,
    botId,
    username,
    calls,
    push(update) {
      const id = typeof update.update_id === 'number' ? update.update_id : nextUpdateId++;
      queue.push({ ...update, update_id: id });
      wake();
      return id;
    },
    confirmedBelow: () => confirmed,
    pending: () => queue.map((u) => u.update_id as number),
    fail(method, failure, times = 1) {
      const list = failures.get(method) ?? [];
      for (let i = 0; i < times; i++) list.push(failure);
      failures.set(method, list);
    },
    revoke() {
      revoked = true;
      wake();
    },
    callsOf: (method) => calls.filter((c) => c.method === method),
    async close() {
      if (!server.listening) return;
      for (const w of waiters) clearTimeout(w.timer);
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function parseBody(req: IncomingMessage, body: Buffer): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (body.length === 0) return {};
  if (type.startsWith('application/json')) return JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  if (type.startsWith('multipart/form-data')) {
    const boundary = /boundary=([^;]+)/.exec(type)?.[1];
    if (!boundary) throw new Error('multipart body without a boundary');
    const fields: Record<string, unknown> = {};
    const files = new Map<string, { filename: string; size: number; text: string }>();
    for (const part of multipartParts(body, boundary)) {
      const name = /name="([^"]*)"/i.exec(part.headers)?.[1];
      if (name === undefined) continue;
      const filename = /filename="?([^";\r\n]*)"?/i.exec(part.headers)?.[1];
      if (filename !== undefined) files.set(name, { filename, size: part.body.length, text: part.body.toString('utf8') });
      else fields[name] = jsonOrText(part.body.toString('utf8'));
    }
    // A file is sent as its own part and referenced from its field as attach://<part name>.
    for (const [key, value] of Object.entries(fields)) {
      if (typeof value === 'string' && value.startsWith('attach://')) fields[key] = files.get(value.slice(9));
    }
    return fields;
  }
  throw new Error(`unsupported content-type ${type}`);
}

/** grammY sends objects in a multipart request as JSON and scalars as their text. */
function jsonOrText(text: string): unknown {
  if (!/^[[{]/.test(text) && !/^-?\d+$/.test(text)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function multipartParts(body: Buffer, boundary: string): { headers: string; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: string; body: Buffer }[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const chunk = body.subarray(start + 2, next - 2); // without the CRLF after the delimiter and before the next
    const split = chunk.indexOf('\r\n\r\n');
    if (split >= 0) parts.push({ headers: chunk.subarray(0, split).toString('utf8'), body: chunk.subarray(split + 4) });
    at = next;
  }
  return parts;
}
