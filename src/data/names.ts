/**
 * Column-name matching shared by format detection and header resolution.
 */

/** Lower-cases and drops `_`, `-` and spaces so `user_id`, `userId` and `User ID` compare equal. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[\s_-]/g, '');
}

export type ColumnRole = 'user' | 'item' | 'time' | 'rating';

/** Accepted default names, compared after `normalizeName` (so `user_id` matches `userid`). */
export const DEFAULT_NAMES: Record<ColumnRole, readonly string[]> = {
  user: ['user', 'userid', 'uid', 'session', 'sessionid', 'visitor', 'visitorid', 'customer', 'customerid'],
  item: ['item', 'itemid', 'iid', 'movie', 'movieid', 'product', 'productid', 'asin', 'sku'],
  time: ['timestamp', 'time', 'ts', 'timeframe', 'unixtime', 'pos', 'position'],
  rating: ['rating', 'score', 'stars'],
};

/** Names of a session column (normalized), for the `session` format. */
export const SESSION_NAMES: readonly string[] = ['session', 'sessionid'];
