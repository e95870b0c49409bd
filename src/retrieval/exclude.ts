/** Exclusion lists come as arrays (a user's history) or ready-made sets. */
export type ExcludeList = ArrayLike<number> | ReadonlySet<number>;

/**
 * A set to test candidates against, or null when there is nothing to exclude (so hot
 * loops can skip the lookup entirely).
 */
export function toExcludeSet(exclude: ExcludeList | null | undefined): ReadonlySet<number> | null {
  if (exclude === null || exclude === undefined) return null;
  if (typeof (exclude as ReadonlySet<number>).has === 'function') {
    const set = exclude as ReadonlySet<number>;
    return set.size > 0 ? set : null;
  }
  const list = exclude as ArrayLike<number>;
  if (list.length === 0) return null;
  const set = new Set<number>();
  for (let i = 0; i < list.length; i++) set.add(list[i]);
  return set;
}
