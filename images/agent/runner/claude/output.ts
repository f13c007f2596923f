// Claude Code's `--output-format json` answer: one result object ({type:"result", subtype, is_error, result,
// session_id, ...}); some versions print the whole message list instead, whose last "result" entry is the same thing.
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

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Tolerate noise before the answer: take the last line that parses.
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean).reverse();
    for (const line of lines) {
      try {
        return JSON.parse(line);
      } catch {
        /* keep looking */
      }
    }
    return undefined;
  }
}

export function parseClaudeOutput(stdout: string): ClaudeOutput {
  const trimmed = stdout.trim();
  if (trimmed === '') return { ok: false, error: 'claude printed nothing on stdout' };
  const value = parseJson(trimmed);
  if (value === undefined) return { ok: false, error: 'claude output is not JSON' };
  const entry = (Array.isArray(value) ? [...value].reverse().find((e: ResultEntry) => e?.type === 'result') : value) as
    | ResultEntry
    | undefined;
  if (!entry || typeof entry !== 'object' || entry.type !== 'result') {
    return { ok: false, error: 'claude output has no result entry' };
  }
  const subtype = typeof entry.subtype === 'string' ? entry.subtype : 'unknown';
  const isError = entry.is_error === true || subtype !== 'success';
  const text = typeof entry.result === 'string' ? entry.result : `claude-code ended without a result (${subtype})`;
  const session = typeof entry.session_id === 'string' && entry.session_id !== '' ? entry.session_id : null;
  return { ok: true, text, isError, session };
}
