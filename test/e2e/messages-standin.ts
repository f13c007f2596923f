// A stand-in for the Anthropic Messages API, as Claude Code talks to it: POST /v1/messages answered with the SSE events
// the API streams (message_start, content_block_start/delta/stop with text_delta or input_json_delta, message_delta,
// message_stop), scripted per test, and every request recorded (body and headers) so a test can read what the model
// was offered and what it was given back. Claude Code's per-turn GETs of /api/claude_code/* answer 404, or never.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/** What the model "says" for one /v1/messages request. */
export type ModelStep =
  | { text: string }
  | { tool: string; input: Record<string, unknown>; text?: string }
  | { status: number; headers?: Record<string, string>; error: { type: string; message: string } }
  /** Stream the start of a message, then drop the connection. */
  | { cut: true }
  /** Accept the request and never answer. */
  | { hang: true };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: MessagesBody | null;
}

export interface MessagesBody {
  model?: string;
  stream?: boolean;
  system?: unknown;
  tools?: Array<{ name: string }>;
  messages: Array<{ role: string; content: string | Array<Record<string, unknown>> }>;
}

export interface StandInOptions {
  host: string;
  /** Default: any free port. */
  port?: number;
  /** TLS key and certificate: serve HTTPS (as api.anthropic.com does); plain HTTP without. */
  tls?: { key: string; cert: string };
  /** What /api/claude_code/* does: answer 404 (default) or never answer. */
  claudeCodeApi?: '404' | 'hang';
}

export interface StandIn {
  port: number;
  requests: RecordedRequest[];
  /** The /v1/messages requests of the agent's main loop (the ones offering tools), in order. */
  modelRequests(): MessagesBody[];
  /**
   * Steps for the next main-loop requests whose conversation contains `match` (a marker in the turn's message, so
   * turns running side by side each get their own script; the latest marker wins), consumed in order; when none is left the model answers
   * "done". `repeat` keeps answering with the last step instead (an API that keeps failing).
   */
  script(match: string, steps: ModelStep[], options?: { repeat?: boolean }): void;
  /** What /api/claude_code/* does from now on. */
  claudeCodeApi: '404' | 'hang';
  close(): Promise<void>;
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function messageStart(res: ServerResponse, model: string): void {
  sse(res, 'message_start', {
    type: 'message_start',
    message: {
      id: `msg_${randomBytes(12).toString('hex')}`,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 12, output_tokens: 1 },
    },
  });
}

function streamMessage(res: ServerResponse, model: string, step: { text?: string; tool?: string; input?: Record<string, unknown> }): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_${randomBytes(8).toString('hex')}` });
  messageStart(res, model);
  let index = 0;
  if (step.text !== undefined) {
    sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
    // Two deltas, so the client really has to put the text together.
    const half = Math.ceil(step.text.length / 2);
    for (const part of [step.text.slice(0, half), step.text.slice(half)]) {
      if (part) sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: part } });
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
    index++;
  }
  if (step.tool !== undefined) {
    const id = `toolu_${randomBytes(12).toString('hex')}`;
    sse(res, 'content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id, name: step.tool, input: {} } });
    const json = JSON.stringify(step.input ?? {});
    const cut = Math.floor(json.length / 2);
    for (const part of [json.slice(0, cut), json.slice(cut)]) {
      sse(res, 'content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: part } });
    }
    sse(res, 'content_block_stop', { type: 'content_block_stop', index });
  }
  sse(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: step.tool !== undefined ? 'tool_use' : 'end_turn', stop_sequence: null },
    usage: { output_tokens: 20 },
  });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

export async function startStandIn(options: StandInOptions): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const scripts: Array<{ match: string; steps: ModelStep[]; repeat: boolean }> = [];
  const nextStep = (body: MessagesBody): ModelStep => {
    // The script whose marker comes latest in the conversation: a resumed session still holds earlier turns.
    const all = JSON.stringify(body.messages);
    const live = scripts.filter((x) => x.steps.length > 0 && all.includes(x.match));
    const script = live.sort((a, b) => all.lastIndexOf(b.match) - all.lastIndexOf(a.match))[0];
    if (!script) return { text: 'done' };
    return script.repeat && script.steps.length === 1 ? script.steps[0]! : script.steps.shift()!;
  };
  let claudeCodeApi = options.claudeCodeApi ?? '404';
  const sockets = new Set<Socket>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      let body: MessagesBody | null = null;
      try {
        body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as MessagesBody) : null;
      } catch {
        body = null;
      }
      requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });

      if (url.pathname.startsWith('/api/claude_code/')) {
        if (claudeCodeApi === 'hang') return; // never answered
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'Not found' } }));
        return;
      }
      if (req.method !== 'POST' || url.pathname !== '/v1/messages' || !body) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: `no ${req.method} ${url.pathname}` } }));
        return;
      }
      const model = body.model ?? 'claude-stand-in';
      // Side requests (titles, summaries) offer no tools: they get a plain answer and leave the script alone.
      const step: ModelStep = body.tools?.length ? nextStep(body) : { text: 'ok' };
      if ('hang' in step) return;
      if ('status' in step) {
        res.writeHead(step.status, { 'content-type': 'application/json', ...(step.headers ?? {}) });
        res.end(JSON.stringify({ type: 'error', error: step.error }));
        return;
      }
      if ('cut' in step) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        messageStart(res, model);
        sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
        sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'I was about to' } });
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      streamMessage(res, model, step);
    });
  };

  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle) : createHttpServer(handle);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    modelRequests: () => requests.filter((r) => r.path === '/v1/messages' && r.body?.tools?.length).map((r) => r.body!),
    script: (match, steps, opts = {}) => void scripts.push({ match, steps: [...steps], repeat: opts.repeat === true }),
    get claudeCodeApi() {
      return claudeCodeApi;
    },
    set claudeCodeApi(mode) {
      claudeCodeApi = mode;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The tool_result blocks of a request's last user message: what the model was given back. */
export function toolResults(body: MessagesBody): Array<{ tool_use_id: string; is_error?: boolean; text: string }> {
  const last = body.messages[body.messages.length - 1];
  if (!last || typeof last.content === 'string') return [];
  return last.content
    .filter((b) => b.type === 'tool_result')
    .map((b) => ({
      tool_use_id: String(b.tool_use_id),
      is_error: b.is_error as boolean | undefined,
      text: typeof b.content === 'string' ? b.content : (b.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? '').join(''),
    }));
}
