// Globs for tool names and argument values: `*` = any run without `/`, `**` = any run (including `/`), everything
// else literal; anchored and case-sensitive. Matching never backtracks: argument values come from agents and may be
// megabytes long, so a regex with several stars could be made to take quadratic or worse time. Common shapes take a
// fast path; the rest run a small NFA in O(value length x glob length).

export type GlobMatcher = (value: string) => boolean;

const SLASH = 47; // '/'
const ANY_NO_SLASH = -1; // `*`
const ANY = -2; // `**` (or any longer run of stars)

/** True when the glob has no `*`: it matches exactly one string, itself. */
export function isLiteralGlob(glob: string): boolean {
  return !glob.includes('*');
}

/** True when the glob is made of stars only; for a tool name (which never contains `/`), it matches every name. */
export function isStarsOnly(glob: string): boolean {
  return /^\*+$/.test(glob);
}

/** Compiles a glob once; the matcher is then called per decision. */
export function compileGlob(glob: string): GlobMatcher {
  if (isLiteralGlob(glob)) return (v) => v === glob;
  // Split into literals and star runs: parts alternate literal, stars, literal, ...
  const parts = glob.split(/(\*+)/);
  if (parts.length === 3) {
    const pre = parts[0] ?? '';
    const crossesSlash = (parts[1] ?? '').length >= 2;
    const post = parts[2] ?? '';
    const fixed = pre.length + post.length;
    return (v) => {
      if (v.length < fixed || !v.startsWith(pre) || !v.endsWith(post)) return false;
      if (crossesSlash) return true;
      const slash = v.indexOf('/', pre.length);
      return slash < 0 || slash >= v.length - post.length;
    };
  }
  const tokens: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    if (i % 2 === 1) tokens.push(part.length >= 2 ? ANY : ANY_NO_SLASH);
    else for (let j = 0; j < part.length; j++) tokens.push(part.charCodeAt(j));
  }
  const program = Int32Array.from(tokens);
  const pre = parts[0] ?? '';
  const post = parts[parts.length - 1] ?? '';
  return (v) => v.startsWith(pre) && v.endsWith(post) && runNfa(program, v);
}

/** Matches once, compiling on the way (for one-off checks; compile and keep the matcher on hot paths). */
export function globMatches(glob: string, value: string): boolean {
  return compileGlob(glob)(value);
}

// Thompson simulation: the state is the set of token positions still alive; each character advances all at once.
function runNfa(program: Int32Array, value: string): boolean {
  const m = program.length;
  let current = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  enter(program, current, 0);
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    next.fill(0);
    let alive = false;
    for (let i = 0; i < m; i++) {
      if (current[i] === 0) continue;
      const t = program[i] as number;
      if (t === ANY || (t === ANY_NO_SLASH && c !== SLASH)) {
        enter(program, next, i);
        alive = true;
      } else if (t === c) {
        enter(program, next, i + 1);
        alive = true;
      }
    }
    if (!alive) return false;
    const swap = current;
    current = next;
    next = swap;
  }
  return current[m] === 1;
}

/** Adds state i and, since a star may match nothing, every state reachable by skipping stars. */
function enter(program: Int32Array, set: Uint8Array, i: number): void {
  set[i] = 1;
  while (i < program.length && (program[i] as number) < 0) set[++i] = 1;
}
