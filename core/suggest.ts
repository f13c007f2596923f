// "Did you mean" for names an operator typed: the closest known name by edit distance, when it is close enough to
// be a typo rather than a different word. Shared by PERSONA.md/SKILL.md keys and grants tool and argument names.

/** Levenshtein distance with adjacent transpositions counted as one edit ("mdoel" is one edit from "model"). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    rows.push(new Array<number>(b.length + 1).fill(0));
    rows[i]![0] = i;
  }
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

/** Names longer than this are never compared: nobody mistypes a 64-character name, and distance is quadratic. */
const MAX_COMPARED_LENGTH = 64;

/**
 * The known name closest to `typed`, or null when none is within half its length in edits (at least one).
 * Ties go to the first candidate, so the answer is stable for a given list.
 */
export function closestName(typed: string, candidates: Iterable<string>): string | null {
  if (typed.length === 0 || typed.length > MAX_COMPARED_LENGTH) return null;
  const limit = Math.max(1, Math.floor(typed.length / 2));
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    if (candidate === typed || Math.abs(candidate.length - typed.length) > limit) continue;
    const d = editDistance(typed, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` when a candidate is close, else ''. Appended to "unknown ..." messages. */
export function didYouMean(typed: string, candidates: Iterable<string>): string {
  const best = closestName(typed, candidates);
  return best === null ? '' : ` (did you mean "${best}"?)`;
}
