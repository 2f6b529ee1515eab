import { KNOWN_KEYS } from './config.js';
import { VARIABLES } from './template.js';

// "Did you mean ...?" for the commands (check, explain, a mistyped command or
// option). Kept out of config.ts so the install and runtime paths, which print
// nothing to a person, do not carry it.

/** Levenshtein distance (small strings only: keys, variable names, commands). */
export function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** The known word closest to `word`, if it is close enough to be a typo (at most 2 edits, and at most half its letters). */
export function nearest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.min(2, Math.floor(word.length / 2)) ? best : undefined;
}

/**
 * A config problem from parseConfig, with the nearest known name added where
 * it names an unknown one: "unknown variable {platfrom}; did you mean
 * {platform}? Known: ...", "unknown key "installBeacon.timeoutMS" is ignored
 * (did you mean "timeoutMs"? known: ...)".
 */
export function withSuggestion(problem: string): string {
  const variable = /unknown variable \{([a-z_]+)\}; known:/.exec(problem);
  if (variable) {
    const near = nearest(variable[1]!, VARIABLES);
    return near ? problem.replace('; known:', `; did you mean {${near}}? Known:`) : problem;
  }
  const key = /^unknown key "installBeacon\.([^"]+)" is ignored \(known:/.exec(problem);
  if (key) {
    const near = nearest(key[1]!, KNOWN_KEYS);
    return near ? problem.replace('is ignored (known:', `is ignored (did you mean "${near}"? known:`) : problem;
  }
  return problem;
}
