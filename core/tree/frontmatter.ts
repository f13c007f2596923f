// YAML front matter for PERSONA.md and SKILL.md, parsed with gray-matter (js-yaml safeLoad), with every problem
// mapped to the line of the file it is on. Only YAML is accepted: gray-matter would `eval` a `---js` block.
import matter from 'gray-matter';
import type { z } from 'zod';
import type { ConfigError } from '../config-error.js';
import { didYouMean } from '../suggest.js';

export interface Frontmatter {
  data: Record<string, unknown>;
  /** Text after the closing `---` (the whole file when there is no front matter). */
  body: string;
  /** Raw front-matter text as gray-matter saw it; line i (0-based) of it is line i+1 of the file. */
  raw: string;
}

const OPEN = '---';

function refuse(): object {
  throw new Error('only YAML front matter is supported');
}

// Every engine except YAML is replaced with one that refuses: no eval, no surprise formats.
const OPTIONS = {
  language: 'yaml',
  engines: { javascript: refuse, js: refuse, coffee: refuse, json: refuse },
};

export function parseFrontmatter(text: string, file: string): { fm: Frontmatter | null; errors: ConfigError[] } {
  const err = (line: number, message: string) => ({ fm: null, errors: [{ file, line, message }] });
  if (!text.startsWith(OPEN) || text.charAt(OPEN.length) === '-') {
    return { fm: { data: {}, body: text, raw: '' }, errors: [] };
  }
  const afterOpen = text.slice(OPEN.length);
  const eol = afterOpen.search(/\r?\n/);
  const language = (eol < 0 ? afterOpen : afterOpen.slice(0, eol)).trim();
  if (language !== '') return err(1, `front matter language "${language.slice(0, 40)}" is not supported; use YAML`);
  if (eol < 0 || afterOpen.indexOf('\n' + OPEN, eol) < 0) {
    return err(1, 'front matter opened with "---" is never closed by a "---" line');
  }

  let parsed: { data: unknown; content: string; matter?: string };
  try {
    // Passing options also keeps gray-matter from caching every text it ever saw (its cache is unbounded).
    parsed = matter(text, OPTIONS);
  } catch (e) {
    return err(yamlLine(e), `invalid YAML front matter: ${yamlReason(e)}`);
  }
  const raw = parsed.matter ?? '';
  const data = parsed.data ?? {};
  if (typeof data !== 'object' || Array.isArray(data) || data instanceof Date) {
    return err(2, 'front matter must be a mapping of "key: value" lines');
  }
  const shape = shapeProblem(data);
  if (shape) return err(1, shape);
  return { fm: { data: data as Record<string, unknown>, body: parsed.content, raw }, errors: [] };
}

/** Front matter bigger than this, counting every use of a YAML alias, is refused. */
export const MAX_NODES = 100_000;
export const MAX_NESTING = 64;

/**
 * Bounds the parsed value before anything walks it: YAML aliases can make a few lines expand into billions of nodes
 * ("billion laughs"), and deep nesting can exhaust the stack of whoever compares or serialises the config later.
 */
function shapeProblem(data: unknown): string | null {
  let nodes = 0;
  const stack: [unknown, number][] = [[data, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (++nodes > MAX_NODES) return `front matter is too large (more than ${MAX_NODES} values, counting each use of an alias)`;
    if (depth > MAX_NESTING) return `front matter is nested more than ${MAX_NESTING} levels deep`;
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      for (const child of Object.values(value)) stack.push([child, depth + 1]);
    }
  }
  return null;
}

function yamlLine(e: unknown): number {
  const mark = (e as { mark?: { line?: unknown } } | null)?.mark;
  // The raw block starts with the newline after the opening "---", so its 0-based line i is file line i+1.
  return mark && typeof mark.line === 'number' ? mark.line + 1 : 1;
}

function yamlReason(e: unknown): string {
  const reason = (e as { reason?: unknown } | null)?.reason;
  if (typeof reason === 'string') return reason;
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

const indentOf = (line: string) => line.length - line.trimStart().length;
const isBlank = (line: string) => line.trim() === '' || line.trimStart().startsWith('#');
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Best-effort 1-based file line of a key path (e.g. ['limits', 'cpus'] or ['mounts', 1, 'host']) in block-style YAML.
 * Falls back to the deepest ancestor found, then to line 1, so an error always points somewhere useful.
 */
export function lineOfKey(raw: string | readonly string[], keyPath: readonly PropertyKey[]): number {
  const lines = typeof raw === 'string' ? raw.split(/\r?\n/) : raw;
  let from = 0; // search window start (0-based raw line)
  let to = lines.length; // window end (exclusive)
  let found = -1;
  let parentIndent = -1;
  for (const seg of keyPath) {
    let hit = -1;
    if (typeof seg === 'number') {
      // The seg-th "- " item at the window's item indentation.
      let itemIndent = -1;
      let count = 0;
      for (let i = from; i < to; i++) {
        const line = lines[i]!;
        if (isBlank(line) || !/^\s*-(\s|$)/.test(line)) continue;
        if (itemIndent < 0) itemIndent = indentOf(line);
        if (indentOf(line) !== itemIndent) continue;
        if (count++ === seg) {
          hit = i;
          break;
        }
      }
      if (hit < 0) break;
      // An item's keys may sit on its own "- key:" line, so the next search includes it.
      found = hit;
      parentIndent = indentOf(lines[hit]!);
      from = hit;
      to = blockEnd(lines, hit, parentIndent, true);
      continue;
    }
    const key = new RegExp(`^\\s*(?:-\\s+)?(["']?)${escapeRe(String(seg))}\\1\\s*:(\\s|$)`);
    for (let i = from; i < to; i++) {
      const line = lines[i]!;
      if (isBlank(line) || !key.test(line)) continue;
      if (found >= 0 && i !== found && indentOf(line) <= parentIndent) continue;
      if (found < 0 && indentOf(line) !== 0) continue;
      hit = i;
      break;
    }
    if (hit < 0) break;
    found = hit;
    parentIndent = indentOf(lines[hit]!);
    from = hit + 1;
    to = blockEnd(lines, hit, parentIndent, false);
  }
  return found < 0 ? 1 : found + 1;
}

/**
 * End (exclusive) of the block nested under line `start` with indentation `indent`. Under a key, "- " items may sit at
 * the key's own indentation (`env:\n- A`); under an item, the next "- " at the same indentation ends it.
 */
function blockEnd(lines: readonly string[], start: number, indent: number, isItem: boolean): number {
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (isBlank(line)) continue;
    const n = indentOf(line);
    if (n < indent) return i;
    if (n === indent && (isItem || !/^\s*-(\s|$)/.test(line))) return i;
  }
  return lines.length;
}

function dotted(keyPath: readonly PropertyKey[]): string {
  return keyPath.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('').replace(/^\./, '');
}

/** At most this many problems are reported per file: enough to fix, cheap even for a file of nothing but typos. */
export const MAX_ERRORS_PER_FILE = 20;

/** Turns zod issues into ConfigErrors on the line of the offending key; unknown keys are named one by one. */
export function zodIssuesToErrors(
  issues: readonly z.core.$ZodIssue[],
  file: string,
  raw: string,
  allowedKeys?: (objectPath: readonly PropertyKey[]) => readonly string[] | undefined,
): ConfigError[] {
  const lines = raw.split(/\r?\n/);
  const out: ConfigError[] = [];
  let total = 0;
  const add = (keyPath: readonly PropertyKey[], message: string) => {
    if (total++ < MAX_ERRORS_PER_FILE) out.push({ file, line: lineOfKey(lines, keyPath), message });
  };
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys?.(issue.path);
      const hint = allowed && allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
      for (const key of issue.keys) {
        const at = [...issue.path, key];
        add(at, `unknown key "${dotted(at)}"${hint}${allowed ? didYouMean(String(key), allowed) : ''}`);
      }
      continue;
    }
    const where = issue.path.length > 0 ? `"${dotted(issue.path)}": ` : '';
    add(issue.path, `${where}${issue.message}`);
  }
  out.sort((a, b) => a.line - b.line);
  if (total > MAX_ERRORS_PER_FILE) {
    out.push({ file, line: 0, message: `${total - MAX_ERRORS_PER_FILE} more problems not shown` });
  }
  return out;
}
