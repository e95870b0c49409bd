/**
 * Pooling the per-interest candidate lists of multi-interest users (MIND, ComiRec), as in
 * ComiRec's official evaluation: the K · perInterest (item, score) candidates of a user are
 * sorted by score descending, duplicates dropped (keeping the best score), padding dropped,
 * and the first k kept.
 *
 * Independent of how the candidates were produced (exact search, faiss, ...): ids < 0 are
 * treated as empty slots, so index outputs padded with -1 can be passed as they are.
 */
import { assertInteger, SeqrecError } from '../errors.js';
import { toExcludeSet, type ExcludeList } from './exclude.js';
import { TopKHeap, type TopKResult } from './topk.js';
import type { SearchResult } from './types.js';

function checkCounts(interests: number, perInterest: number, k: number): void {
  for (const [name, v] of [
    ['interests', interests],
    ['perInterest', perInterest],
    ['k', k],
  ] as const) {
    assertInteger(v, name, 1);
  }
}

/**
 * Fills `best` (cleared first) with each distinct candidate in `[offset, offset + count)` and its
 * highest score. Dropped: id 0 (padding), ids < 0 (empty slots), NaN scores (cannot be ranked)
 * and the ids in `exclude`.
 */
export function bestScorePerItem(
  ids: Int32Array,
  scores: Float32Array,
  offset: number,
  count: number,
  exclude: ReadonlySet<number> | null,
  best: Map<number, number>,
): void {
  best.clear();
  for (let j = offset; j < offset + count; j++) {
    const id = ids[j];
    const s = scores[j];
    if (id <= 0 || s !== s) continue;
    if (exclude !== null && exclude.has(id)) continue;
    const prev = best.get(id);
    if (prev === undefined || s > prev) best.set(id, s);
  }
}

/**
 * Merges one user's candidates from `[offset, offset + count)` into `out*` at `outOffset`.
 * `best` and `heap` are scratch space reused across users.
 */
function mergeInto(
  ids: Int32Array,
  scores: Float32Array,
  offset: number,
  count: number,
  exclude: ReadonlySet<number> | null,
  best: Map<number, number>,
  heap: TopKHeap,
  outIds: Int32Array,
  outScores: Float32Array,
  outOffset: number,
): void {
  bestScorePerItem(ids, scores, offset, count, exclude, best);
  for (const [id, s] of best) heap.push(id, s);
  heap.drainInto(outIds, outScores, outOffset);
}

/**
 * One user's merged top-k. `ids`/`scores` hold `interests * perInterest` candidates
 * (interest-major, though the order does not matter). Returns the k distinct items with the
 * highest score, best first, ties to the lower id; each item's score is its best over the
 * interests. Ids <= 0, excluded ids and NaN scores are dropped; missing slots are -1 /
 * -Infinity.
 */
export function mergeInterestCandidates(
  ids: Int32Array,
  scores: Float32Array,
  interests: number,
  perInterest: number,
  k: number,
  exclude?: ExcludeList | null,
): TopKResult {
  checkCounts(interests, perInterest, k);
  const count = checkCandidateArrays(ids, scores, interests, perInterest);
  const out: TopKResult = { ids: new Int32Array(k), scores: new Float32Array(k) };
  mergeInto(ids, scores, 0, count, toExcludeSet(exclude), new Map(), new TopKHeap(k), out.ids, out.scores, 0);
  return out;
}

/**
 * {@link mergeInterestCandidates} for many users at once: `ids`/`scores` are
 * [numQueries, interests, perInterest] flattened, `exclude` (optional) has one entry per
 * user. Returns a `SearchResult` with `numQueries` rows of `k`.
 */
export function mergeInterestCandidatesBatch(
  ids: Int32Array,
  scores: Float32Array,
  interests: number,
  perInterest: number,
  k: number,
  exclude?: ReadonlyArray<ExcludeList | null | undefined>,
): SearchResult {
  checkCounts(interests, perInterest, k);
  const count = interests * perInterest;
  const numQueries = checkCandidateBatch(ids, scores, count, exclude);
  const result: SearchResult = {
    k,
    numQueries,
    ids: new Int32Array(numQueries * k),
    scores: new Float32Array(numQueries * k),
  };
  const best = new Map<number, number>();
  const heap = new TopKHeap(k);
  for (let u = 0; u < numQueries; u++) {
    const ex = exclude ? toExcludeSet(exclude[u]) : null;
    mergeInto(ids, scores, u * count, count, ex, best, heap, result.ids, result.scores, u * k);
  }
  return result;
}

/** Checks that `ids` and `scores` hold interests x perInterest candidates; returns that count. */
export function checkCandidateArrays(ids: Int32Array, scores: Float32Array, interests: number, perInterest: number): number {
  const count = interests * perInterest;
  if (ids.length !== count || scores.length !== count) {
    throw new SeqrecError(
      'shape_mismatch',
      `ids and scores must hold interests * perInterest = ${interests} * ${perInterest} = ${count} candidates, got ids.length=${ids.length}, scores.length=${scores.length}`,
      { field: 'ids' },
    );
  }
  return count;
}

/**
 * Checks a batch of candidate lists (`count` per user) and its exclusion lists; returns the
 * number of users.
 */
export function checkCandidateBatch(
  ids: Int32Array,
  scores: Float32Array,
  count: number,
  exclude: ReadonlyArray<ExcludeList | null | undefined> | null | undefined,
): number {
  if (ids.length % count !== 0 || scores.length !== ids.length) {
    throw new SeqrecError(
      'shape_mismatch',
      `ids and scores must have the same length, a multiple of interests * perInterest = ${count}, got ids.length=${ids.length}, scores.length=${scores.length}`,
      { field: 'ids' },
    );
  }
  const numQueries = ids.length / count;
  if (exclude !== undefined && exclude !== null && exclude.length !== numQueries) {
    throw new SeqrecError('shape_mismatch', `exclude must have one entry per user (${numQueries}), got ${exclude.length}`, { field: 'exclude' });
  }
  return numQueries;
}
