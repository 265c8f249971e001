// "Did you mean" for unknown keys: the closest allowed key by edit distance.

/** Edit distance with adjacent transpositions (optimal string alignment): `hostnmae` is 1 from `hostname`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The allowed key closest to `word`, if close enough to be a typo: within a third of its length
 * (at least 1, at most 3 edits), case and `-`/`_` ignored so `remote-port` finds `remote_port`.
 */
export function didYouMean(word: string, allowed: readonly string[]): string | undefined {
  const normal = (text: string) => text.toLowerCase().replace(/-/g, '_');
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: { key: string; distance: number } | undefined;
  for (const key of allowed) {
    const distance = editDistance(normal(word), normal(key));
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}
