// The one table of argument canonicalisation, keyed by argument name. The evaluator canonicalises call arguments
// with it before matching, the parser canonicalises rule values with it (so a rule written `chat=TG:*` means what it
// says), and gated uses the same functions to resolve what a tool actually acts on. One table, so the value that
// was checked is the value that is used.

import { CONTAINER_PATHS } from '../container.js';

/** The tenant's home folder as agents see it inside their container. */
export const HOME = CONTAINER_PATHS.home;

/**
 * An agent path as a path relative to the home folder: `/home/node/reports/a.pdf`, `reports/./a.pdf` and
 * `reports/a.pdf` all give `reports/a.pdf`; the home folder itself is `.`. Null when the path is empty, contains
 * NUL, is absolute outside home, or steps out of home at any point (`../x`, `a/../../x`): such a call is refused.
 */
export function canonicalPath(raw: string): string | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.includes('\0')) return null;
  let rest: string;
  if (raw.startsWith('/')) {
    if (raw === HOME) rest = '';
    else if (raw.startsWith(HOME + '/')) rest = raw.slice(HOME.length + 1);
    else return null;
  } else {
    rest = raw;
  }
  const out: string[] = [];
  for (const segment of rest.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      // Stepping above home even transiently is refused: strictness here costs nothing legitimate.
      if (out.length === 0) return null;
      out.pop();
    } else {
      out.push(segment);
    }
  }
  return out.length === 0 ? '.' : out.join('/');
}

/**
 * Characters a chat id may never contain: whitespace of any kind, control and format characters (zero-width spaces,
 * soft hyphens, bidi marks), line and paragraph separators, surrogates, private-use and unassigned code points, and
 * anything else Unicode says to render invisibly. Each would make one chat look like another to a person while
 * comparing as different to a deny rule.
 */
const INVISIBLE = /[\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Default_Ignorable_Code_Point}\u2800]/u;
// U+2800 (braille blank) is a symbol, not a format character, but renders as nothing: a favourite invisible name.

/**
 * A combining mark on an ASCII letter or digit that NFKC leaves apart (no precomposed form: `1̣`, `0̸`)
 * reads as the plain id with a speck or a stroke; no platform's ids are spelled that way.
 */
const MARK_ON_ASCII = /[\u0021-\u007e]\p{M}/u;

const codePoint = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `raw` (trimmed of ASCII spaces and tabs) is not a chat id, or null. The one chat-id rule: calls, rules, routes,
 * tokens and inbound messages all use it, so a value refused in one place is refused in all. A chat id is refused
 * when it is empty, contains an invisible character (above), contains `%` (percent-encoding would give one chat
 * two spellings), changes under NFKC normalisation (full-width letters, ligatures, compatibility forms), or has a
 * combining mark on an ASCII character.
 */
export function chatIdProblem(raw: string): string | null {
  if (typeof raw !== 'string') return 'is not text';
  const chat = trimAscii(raw);
  if (chat.length === 0) return 'is empty';
  const invisible = INVISIBLE.exec(chat);
  if (invisible) return `contains ${codePoint(invisible[0])}: a chat id has no spaces or control characters, visible or invisible`;
  if (chat.includes('%')) return 'contains "%": percent-encoding is not decoded, so write the chat id itself';
  const lower = chat.toLowerCase();
  if (chat.normalize('NFKC') !== chat || lower.normalize('NFKC') !== lower) {
    const odd = [...lower].find((c) => c.normalize('NFKC') !== c);
    if (odd === undefined) return `is not in Unicode normal form NFKC (that would be "${lower.normalize('NFKC')}")`;
    return `contains ${codePoint(odd)}, a compatibility form of "${odd.normalize('NFKC')}" (chat ids are in Unicode normal form NFKC)`;
  }
  // After NFKC: a mark it would have composed (`e\u0301`) is reported as that.
  const mark = MARK_ON_ASCII.exec(chat);
  if (mark) return `contains ${codePoint(mark[0].slice(1))}, a combining mark on "${mark[0][0]}": a chat id has no marks on plain letters or digits`;
  return null;
}

const trimAscii = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, '');

/** A chat id (`tg:12345`, `slack:c0123`, `local:ops`): trimmed and lowercased. Null when chatIdProblem refuses it. */
export function canonicalChat(raw: string): string | null {
  return chatIdProblem(raw) === null ? trimAscii(raw).toLowerCase() : null;
}

/** A tenant path given as an argument: trimmed, no leading or trailing `/`, no empty segments. Null when empty. */
export function canonicalTenantArg(raw: string): string | null {
  if (typeof raw !== 'string') return null;
  const path = raw
    .trim()
    .split('/')
    .filter((s) => s.length > 0)
    .join('/');
  return path.length === 0 ? null : path;
}

export type GlobCanon = { ok: true; glob: string } | { ok: false; error: string };

/** How one argument name is canonicalised: call values, and rule globs so that rules compare like with like. */
export interface Canonicaliser {
  /** Canonical form of a call value, or null when the value cannot be canonicalised (the call is refused). */
  value(raw: string): string | null;
  /** Canonical form of a rule glob, or an error an operator can act on. */
  glob(glob: string): GlobCanon;
  /** Why `value` refused a call value: one sentence an agent can act on. */
  refusal(raw: string): string;
}

function pathGlob(glob: string): GlobCanon {
  let rest = glob;
  if (glob.startsWith('/')) {
    if (glob === HOME) rest = '';
    else if (glob.startsWith(HOME + '/')) rest = glob.slice(HOME.length + 1);
    else return { ok: false, error: `"${glob}" is outside the home folder (${HOME}); path values are relative to it, e.g. reports/**` };
  }
  const out: string[] = [];
  for (const segment of rest.split('/')) {
    if (segment === '') continue;
    if (segment === '.' || segment === '..') {
      return { ok: false, error: `"${glob}" contains a "${segment}" segment; write the path as it resolves, e.g. reports/**` };
    }
    out.push(segment);
  }
  if (glob.length > 0 && out.length === 0) return { ok: true, glob: '.' };
  if (out.length === 0) return { ok: false, error: 'empty path value' };
  return { ok: true, glob: out.join('/') };
}

const chat: Canonicaliser = {
  value: canonicalChat,
  glob(glob) {
    // A rule spelling a chat id no call can carry would deny nothing: refused like the call would be.
    const problem = chatIdProblem(glob);
    return problem === null ? { ok: true, glob: canonicalChat(glob)! } : { ok: false, error: problem };
  },
  refusal: (raw) => `a chat id ${chatIdProblem(raw) ?? 'is invalid'}`,
};

const tenantArg: Canonicaliser = {
  value: canonicalTenantArg,
  glob(glob) {
    const c = canonicalTenantArg(glob);
    return c === null ? { ok: false, error: 'empty tenant path value' } : { ok: true, glob: c };
  },
  refusal: () => 'a tenant path is empty',
};

/** The table. A Map, not an object, so argument names like `__proto__` or `constructor` are just names. */
export const CANONICALISERS: ReadonlyMap<string, Canonicaliser> = new Map<string, Canonicaliser>([
  ['path', { value: canonicalPath, glob: pathGlob, refusal: () => `a path must name something inside your home folder (${HOME}), without ".." leaving it` }],
  ['chat', chat],
  ['group', tenantArg],
  ['source', tenantArg],
  ['target', tenantArg],
  ['parent', tenantArg],
  ['child', tenantArg],
]);

/** Canonical form of a call argument's string form; other names are taken as given. */
export function canonicalArg(name: string, raw: string): string | null {
  const c = CANONICALISERS.get(name);
  return c ? c.value(raw) : raw;
}

/** Canonical form of a rule's value glob for an argument; other names are taken as given. */
export function canonicalArgGlob(name: string, glob: string): GlobCanon {
  const c = CANONICALISERS.get(name);
  return c ? c.glob(glob) : { ok: true, glob };
}
