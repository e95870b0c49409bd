/**
 * Finding the user, item, time and rating columns of a header row (or JSON object keys).
 */
import { LineError } from './line-error.js';
import { DEFAULT_NAMES, normalizeName, type ColumnRole } from './names.js';

export type { ColumnRole } from './names.js';

/** Column (or JSON key) names for the `csv`, `tsv`, `jsonl` and `session` formats. */
export interface ColumnOptions {
  /** User or session id column. Default: the first header matching user/user_id/userId/session/session_id/... */
  user?: string;
  /** Item id column. Default: the first header matching item/item_id/itemId/movieId/product_id/... */
  item?: string;
  /** Numeric time column. Default: the first header matching timestamp/time/ts/timeframe/pos/...; without one, file order. */
  time?: string;
  /** Rating column, only read when `minRating` is set. Default: rating/score/stars. */
  rating?: string;
}

/** Index of each role's column in `names`; -1 for an optional role without a column. */
export type ColumnIndices = Record<ColumnRole, number>;

/**
 * Resolves the columns. An explicit name must exist exactly; a default is the FIRST header
 * (in header order) that matches any accepted name, so Diginetica's
 * `session_id;user_id;item_id;...` groups by session. `user` and `item` are required,
 * `rating` only when `needRating`. Throws a fatal `LineError` naming the available columns.
 */
export function resolveColumns(names: readonly string[], explicit: ColumnOptions, needRating: boolean): ColumnIndices {
  const normalized = names.map(normalizeName);
  const list = names.map((n) => `'${n}'`).join(', ');
  const find = (role: ColumnRole, required: boolean): number => {
    const wanted = explicit[role];
    if (wanted !== undefined) {
      const index = names.indexOf(wanted);
      if (index < 0) throw new LineError(`no column '${wanted}' for ${role} (columns: ${list})`, role, true);
      return index;
    }
    const index = normalized.findIndex((n) => DEFAULT_NAMES[role].includes(n));
    if (index < 0 && required) {
      throw new LineError(`no ${role} column found among ${list}; name it with options.columns.${role}`, role, true);
    }
    return index;
  };
  const indices: ColumnIndices = {
    user: find('user', true),
    item: find('item', true),
    time: find('time', false),
    rating: find('rating', needRating),
  };
  if (indices.user === indices.item) {
    throw new LineError(`user and item cannot both be column '${names[indices.user]}'`, 'item', true);
  }
  return indices;
}
