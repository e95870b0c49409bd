/** Small statistics shared by the benchmark scripts. */

/** The upper median: the middle element of the sorted values (no averaging). */
export function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
