// A small server-sent-events client over a real HTTP connection: parses events as they arrive, can stop reading (a
// slow client whose socket fills up) and resume, and closes like a dropped connection.
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

export interface SseClient {
  status: number;
  headers: IncomingMessage['headers'];
  events: SseEvent[];
  /** Comment lines (": ping") seen. */
  comments: string[];
  /** Resolves when the server has ended the response. */
  ended: Promise<void>;
  /** The body of a non-SSE answer. */
  body(): Promise<string>;
  waitFor(predicate: (events: SseEvent[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  pause(): void;
  resume(): void;
  close(): void;
}

export function sse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      const comments: string[] = [];
      const listeners = new Set<() => void>();
      let buf = '';
      let raw = '';
      let current: SseEvent = { event: 'message', data: '' };
      let hasData = false;
      const sseBody = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        if (!sseBody) return void (raw += text);
        buf += text;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (hasData || current.id !== undefined) events.push(current);
            current = { event: 'message', data: '' };
            hasData = false;
          } else if (line.startsWith(':')) comments.push(line.slice(1).trim());
          else {
            const colon = line.indexOf(':');
            const field = line.slice(0, colon);
            const value = line.slice(colon + 1).replace(/^ /, '');
            if (field === 'id') current.id = value;
            else if (field === 'event') current.event = value;
            else if (field === 'data') {
              current.data = hasData ? `${current.data}\n${value}` : value;
              hasData = true;
            }
          }
        }
        for (const l of listeners) l();
      });
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        ended,
        body: async () => {
          await ended;
          return raw;
        },
        waitFor: (predicate, what, timeoutMs = 10_000) =>
          new Promise<void>((ok, fail) => {
            if (predicate(events)) return ok();
            const timer = setTimeout(() => {
              listeners.delete(check);
              fail(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}; got ${events.length} events`));
            }, timeoutMs);
            const check = () => {
              if (!predicate(events)) return;
              clearTimeout(timer);
              listeners.delete(check);
              ok();
            };
            listeners.add(check);
            void ended.then(() => setImmediate(check));
          }),
        pause: () => res.pause(),
        resume: () => res.resume(),
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
