// Scrubbing secret values out of text before it leaves warren's trust boundary (tool results, audit entries, logs).
// Every occurrence of every secret value becomes `[secret:NAME]`. Occurrences are found for all values independently
// and overlapping ones are merged, so no character of any occurrence survives (a single left-to-right regex would
// leave the tail of a second secret that overlaps the first). Values shorter than MIN_REDACT_LENGTH are ignored:
// redacting "1" or "no" would shred ordinary text while protecting nothing.
// Besides the raw value, its JSON-escaped form is redacted too (a value with a quote or backslash inside JSON text).
// Not caught: values split across separately redacted chunks, or transformed (base64, URL-encoded, reversed…).

export const MIN_REDACT_LENGTH = 4;

export type Redactor = (text: string) => string;

interface Needle {
  text: string;
  name: string;
}

/** Secrets as name -> value, or as [name, value] pairs when one name has several values (a value rotated mid-run). */
export type SecretValues = ReadonlyMap<string, string> | ReadonlyArray<readonly [string, string]>;

export function makeRedactor(secrets: SecretValues): Redactor {
  const needles = needlesOf(secrets);
  if (needles.length === 0) return (text) => text;
  return (text) => redactWith(needles, text);
}

/** Redacts every string (and object key) in a JSON-like value; returns a new value, the input is not modified. */
export function redactDeep<T>(value: T, redact: Redactor): T {
  return walk(value, redact, new WeakMap()) as T;
}

export function makeDeepRedactor(secrets: ReadonlyMap<string, string>): <T>(value: T) => T {
  const redact = makeRedactor(secrets);
  return (value) => redactDeep(value, redact);
}

function needlesOf(secrets: SecretValues): Needle[] {
  const byText = new Map<string, string>();
  // Names in order, so that two names with the same value are always reported the same way.
  const pairs = [...secrets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, value] of pairs) {
    if (typeof value !== 'string' || value.length < MIN_REDACT_LENGTH) continue;
    for (const form of [value, JSON.stringify(value).slice(1, -1)]) if (!byText.has(form)) byText.set(form, name);
  }
  // Longest first: where occurrences nest, the longer one names the span.
  return [...byText].map(([text, name]) => ({ text, name })).sort((a, b) => b.text.length - a.text.length);
}

function redactWith(needles: readonly Needle[], text: string): string {
  const spans: { start: number; end: number; name: string }[] = [];
  for (const n of needles) {
    for (let i = text.indexOf(n.text); i >= 0; i = text.indexOf(n.text, i + 1)) {
      spans.push({ start: i, end: i + n.text.length, name: n.name });
    }
  }
  if (spans.length === 0) return text;
  // Stable sort by start keeps longest-first order among spans that start together.
  spans.sort((a, b) => a.start - b.start);
  let out = '';
  let pos = 0;
  for (let i = 0; i < spans.length; ) {
    const start = spans[i]!.start;
    let end = spans[i]!.end;
    const names: string[] = [];
    for (; i < spans.length && spans[i]!.start < end; i++) {
      const s = spans[i]!;
      // A span inside the current one is part of a longer secret and adds no name; one reaching past it does.
      if ((names.length === 0 || s.end > end) && !names.includes(s.name)) names.push(s.name);
      end = Math.max(end, s.end);
    }
    out += text.slice(pos, start) + `[secret:${names.join(',')}]`;
    pos = end;
  }
  return out + text.slice(pos);
}

function walk(value: unknown, redact: Redactor, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value !== 'object' || value === null) return value;
  // Dates, Buffers and the like: redact what they would serialise to.
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return walk(toJSON.call(value), redact, seen);
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const v of value) out.push(walk(v, redact, seen));
    return out;
  }
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) out[redact(k)] = walk(v, redact, seen);
  return out;
}
