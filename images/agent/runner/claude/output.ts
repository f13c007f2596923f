// Claude Code's `--output-format stream-json --verbose` answer: one JSON event per line, ending with the result event
// ({type:"result", subtype, is_error, result, session_id, ...}). On the way it reports each retry of a failing model
// API call ({type:"system", subtype:"api_retry", attempt, max_retries, error_status, error}), which is how a turn
// stopped at its time limit can still say why it never answered. Older versions' single object (`--output-format
// json`), or a whole message list, are read the same way.
export type ClaudeOutput =
  | { ok: true; text: string; isError: boolean; session: string | null }
  | { ok: false; error: string };

interface ResultEntry {
  type?: unknown;
  subtype?: unknown;
  is_error?: unknown;
  result?: unknown;
  session_id?: unknown;
}

export interface ApiRetry {
  attempt: number;
  maxRetries: number | null;
  status: number | null;
  error: string | null;
}

/** Which of the events worth keeping one stdout line is: the result, an API retry, or neither (dropped). */
export function keptEvent(line: string): 'result' | 'retry' | null {
  if (!line.includes('"result"') && !line.includes('"api_retry"')) return null; // most lines: no parse needed
  const value = parse(line) as { type?: unknown; subtype?: unknown } | undefined;
  if (typeof value !== 'object' || value === null) return null;
  if (value.type === 'result') return 'result';
  return value.subtype === 'api_retry' ? 'retry' : null;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Every JSON value in the output: the whole text when it parses, else each line that does. */
function values(stdout: string): unknown[] {
  const whole = parse(stdout);
  if (whole !== undefined) return Array.isArray(whole) ? whole : [whole];
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map(parse)
    .filter((v) => v !== undefined);
}

export function parseClaudeOutput(stdout: string): ClaudeOutput {
  const trimmed = stdout.trim();
  if (trimmed === '') return { ok: false, error: 'claude printed nothing on stdout' };
  const all = values(trimmed);
  if (all.length === 0) return { ok: false, error: 'claude output is not JSON' };
  const entry = [...all].reverse().find((e) => (e as ResultEntry | null)?.type === 'result') as ResultEntry | undefined;
  if (!entry || typeof entry !== 'object') return { ok: false, error: 'claude output has no result entry' };
  const subtype = typeof entry.subtype === 'string' ? entry.subtype : 'unknown';
  const isError = entry.is_error === true || subtype !== 'success';
  const text = typeof entry.result === 'string' ? entry.result : `claude-code ended without a result (${subtype})`;
  const session = typeof entry.session_id === 'string' && entry.session_id !== '' ? entry.session_id : null;
  return { ok: true, text, isError, session };
}

/** The last retry of a failing model API call the output reports, or null. */
export function lastApiRetry(stdout: string): ApiRetry | null {
  const retries = values(stdout.trim()).filter(
    (e): e is Record<string, unknown> => typeof e === 'object' && e !== null && (e as Record<string, unknown>).subtype === 'api_retry',
  );
  const r = retries[retries.length - 1];
  if (!r) return null;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    attempt: num(r.attempt) ?? retries.length,
    maxRetries: num(r.max_retries),
    status: num(r.error_status),
    error: typeof r.error === 'string' ? r.error.slice(0, 200) : null,
  };
}

/** "the model API kept failing (HTTP 429 rate_limit, retry 4 of 10)", "(connection failed, retry 2 of 10)" */
export function describeRetry(r: ApiRetry): string {
  const detail = r.error && r.error !== 'unknown' ? r.error : null;
  const what = r.status !== null ? [`HTTP ${r.status}`, detail].filter(Boolean).join(' ') : `connection failed${detail ? `: ${detail}` : ''}`;
  const retry = r.maxRetries !== null ? `retry ${r.attempt} of ${r.maxRetries}` : `retry ${r.attempt}`;
  return `the model API kept failing (${what}, ${retry})`;
}

/** Claude Code's answer to `--resume` with a session whose files are not in the home. */
export function sessionNotFound(stderr: string): boolean {
  return /No conversation found with session ID/.test(stderr);
}
