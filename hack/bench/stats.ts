// Statistics the benchmarks share.

/** The middle sample (the mean of the two middle ones for an even count). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** xs started at index k (wrapping): each round begins with another variant, so drift hits all alike. */
export const rotate = <T>(xs: T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

/**
 * a[i] / b[i] for samples taken side by side (the same round, minutes apart at most), summed up
 * as the median of those ratios and their range: never a ratio of medians from different rounds.
 * Pairs run to the shorter list (a variant run in fewer rounds).
 */
export function pairedRatio(a: number[], b: number[]): { median: number; min: number; max: number } {
  const xs = a.slice(0, b.length).map((v, i) => v / b[i]!);
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}
