/**
 * Argument checks shared by every Retriever's search(), so all of them reject bad input with
 * the same messages.
 */
import { SeqrecError } from '../errors.js';
import { toExcludeSet } from './exclude.js';
import type { SearchOptions } from './types.js';

/** Index of the first NaN or infinity in `a`, or -1. */
export function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}

/** A short name of a value's type for error messages. */
export function typeName(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** Validates search() arguments for items of dimension `dim`; returns the resolved shape. */
/** `itemVectors` is a Float32Array of [items, dim] finite numbers (row 0 is padding); shared by every retriever. */
export function checkItems(itemVectors: unknown, dim: unknown): asserts itemVectors is Float32Array {
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim < 1) {
    throw new SeqrecError('invalid_argument', `dim must be an integer >= 1, got ${String(dim)}`, { field: 'dim' });
  }
  if (!(itemVectors instanceof Float32Array)) {
    throw new SeqrecError('invalid_argument', `itemVectors must be a Float32Array, got ${typeName(itemVectors)}`, { field: 'itemVectors' });
  }
  if (itemVectors.length === 0 || itemVectors.length % dim !== 0) {
    throw new SeqrecError('shape_mismatch', `itemVectors.length must be a positive multiple of dim=${dim} (row 0 is padding), got ${itemVectors.length}`, {
      field: 'itemVectors',
    });
  }
  const bad = firstNonFinite(itemVectors);
  if (bad >= 0) {
    throw new SeqrecError('invalid_argument', `itemVectors must be finite, got ${itemVectors[bad]} at item ${Math.floor(bad / dim)}, component ${bad % dim}`, {
      field: 'itemVectors',
    });
  }
}

export function checkSearch(
  queries: unknown,
  options: SearchOptions,
  dim: number,
): { k: number; interests: number; numQueries: number; exclude: SearchOptions['exclude'] | null } {
  if (options === null || typeof options !== 'object') {
    throw new SeqrecError('invalid_argument', `options must be an object with k, got ${String(options)}`, { field: 'options' });
  }
  const { k } = options;
  const interests = options.interests ?? 1;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw new SeqrecError('invalid_argument', `k must be an integer >= 1, got ${String(k)}`, { field: 'k' });
  }
  if (typeof interests !== 'number' || !Number.isInteger(interests) || interests < 1) {
    throw new SeqrecError('invalid_argument', `interests must be an integer >= 1, got ${String(interests)}`, { field: 'interests' });
  }
  if (!(queries instanceof Float32Array)) {
    throw new SeqrecError('invalid_argument', `queries must be a Float32Array, got ${typeName(queries)}`, { field: 'queries' });
  }
  const rowLen = interests * dim;
  if (queries.length % rowLen !== 0) {
    throw new SeqrecError(
      'shape_mismatch',
      `queries.length must be a multiple of interests * dim = ${interests} * ${dim} = ${rowLen} ([numQueries, K, dim] flattened), got ${queries.length}` +
        (queries.length % dim === 0 ? '' : ` (not even a multiple of the item dim ${dim}: query vectors of another size?)`),
      { field: 'queries' },
    );
  }
  const numQueries = queries.length / rowLen;
  const exclude = options.exclude ?? null;
  if (exclude !== null && (!Array.isArray(exclude) || exclude.length !== numQueries)) {
    throw new SeqrecError(
      'shape_mismatch',
      `exclude must have one entry per query row (${numQueries}), got ${Array.isArray(exclude) ? exclude.length : typeName(exclude)}`,
      { field: 'exclude' },
    );
  }
  const bad = firstNonFinite(queries);
  if (bad >= 0) {
    throw new SeqrecError(
      'invalid_argument',
      `queries must be finite, got ${queries[bad]} at query ${Math.floor(bad / rowLen)}, interest ${Math.floor((bad % rowLen) / dim)}, component ${bad % dim}`,
      { field: 'queries' },
    );
  }
  return { k, interests, numQueries, exclude };
}

/** Normalises `rows` (of `dim` floats each) in place to unit L2 norm; zero rows stay zero. */
export function normaliseRows(rows: Float32Array, dim: number): void {
  for (let base = 0; base < rows.length; base += dim) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += rows[base + j] * rows[base + j];
    if (ss === 0) continue;
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) rows[base + j] *= inv;
  }
}

/**
 * The query rows a retriever scores (a normalised copy for cosine) and one exclusion set per
 * user, shared by its K interest rows.
 */
export function prepareQueries(
  queries: Float32Array,
  metric: 'ip' | 'cosine',
  dim: number,
  numQueries: number,
  exclude: SearchOptions['exclude'] | null | undefined,
): { rows: Float32Array; userSets: (ReadonlySet<number> | null)[] } {
  let rows = queries;
  if (metric === 'cosine') {
    rows = Float32Array.from(queries);
    normaliseRows(rows, dim);
  }
  const userSets = new Array<ReadonlySet<number> | null>(numQueries);
  for (let u = 0; u < numQueries; u++) userSets[u] = exclude ? toExcludeSet(exclude[u]) : null;
  return { rows, userSets };
}
