import { distance } from 'fastest-levenshtein';

/**
 * The candidate a mistyped word most likely meant, or undefined when none is close enough to be
 * worth suggesting. Case is ignored (`databaseprefix` means `databasePrefix`). Close: one edit
 * for a word of up to 3 letters, else two (a swap of neighbours, `cahce`, is two) or a third of
 * its letters, so a short word does not "match" an unrelated one.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const typed = word.toLowerCase();
  const limit = typed.length <= 3 ? 1 : Math.max(2, Math.floor(typed.length / 3));
  let best: { candidate: string; score: number } | undefined;
  for (const candidate of candidates) {
    const score = distance(typed, candidate.toLowerCase());
    if (score <= limit && score < typed.length && (!best || score < best.score)) best = { candidate, score };
  }
  return best?.candidate;
}
