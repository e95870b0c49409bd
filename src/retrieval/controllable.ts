/**
 * ComiRec's controllable aggregation (Cen et al., KDD 2020, section 3.4): instead of keeping
 * the k best-scored of a multi-interest user's K · perInterest candidates, pick k items
 * greedily, each time the candidate that maximises
 *
 *   Q(item) = score(item) − λ · (number of already picked items in the item's category)
 *
 * so λ trades accuracy (λ = 0: the plain merge, `mergeInterestCandidates`) against category
 * diversity (large λ: round-robin over categories).
 *
 * As in ComiRec's evaluate_full (coef branch): candidates are pooled over the interests,
 * sorted by score descending and de-duplicated keeping the best score; the greedy pass scans
 * them in that order, keeps the first maximum (strict >), and stops scanning as soon as a raw
 * score falls below the best Q found (Q ≤ score, so nothing later can win).
 *
 * Where seqrec differs, and why:
 * - ties in score are ordered by lower id (the plain merge's rule), so λ = 0 returns exactly
 *   the plain merge's list;
 * - padding (id 0), empty slots (id < 0), NaN scores and excluded ids are dropped, like the
 *   plain merge;
 * - items without a category (absent from the map, or a negative category) are kept and never
 *   penalised; ComiRec drops candidates missing from its category file, which would make
 *   λ = 0 differ from the plain merge;
 * - fewer than k candidates give a short list padded with -1 / -Infinity (ComiRec's loop
 *   would fail).
 * The returned scores are the raw scores, in selection order.
 */
import { assertInteger, SeqrecError } from '../errors.js';
import { toExcludeSet, type ExcludeList } from './exclude.js';
import { bestScorePerItem, checkCandidateArrays, checkCandidateBatch } from './merge.js';
import type { TopKResult } from './topk.js';
import type { SearchResult } from './types.js';

/** Item index -> category id: an array indexed by item (negative = none) or a map. */
export type CategoryMap = ArrayLike<number> | ReadonlyMap<number, number>;

export interface ControllableOptions {
  /** Category of each item. */
  categories: CategoryMap;
  /** λ >= 0, the price of a repeated category. 0 = the plain merge. */
  lambda: number;
}

/** The category of `id`, or -1 when it has none. */
function categoryOf(categories: CategoryMap, id: number): number {
  if (typeof (categories as ReadonlyMap<number, number>).get === 'function') {
    const c = (categories as ReadonlyMap<number, number>).get(id);
    return c === undefined ? -1 : c;
  }
  const arr = categories as ArrayLike<number>;
  return id < arr.length ? arr[id] : -1;
}

function check(interests: number, perInterest: number, k: number, options: ControllableOptions): void {
  for (const [name, v] of [
    ['interests', interests],
    ['perInterest', perInterest],
    ['k', k],
  ] as const) {
    assertInteger(v, name, 1);
  }
  if (options === null || typeof options !== 'object') {
    throw new SeqrecError('invalid_argument', 'options must be an object with categories and lambda', { field: 'options' });
  }
  if (typeof options.lambda !== 'number' || !(options.lambda >= 0) || !Number.isFinite(options.lambda)) {
    throw new SeqrecError('invalid_argument', `lambda must be a finite number >= 0, got ${String(options.lambda)}`, { field: 'lambda' });
  }
  const c = options.categories as unknown;
  if (c === null || typeof c !== 'object' || (typeof (c as Map<number, number>).get !== 'function' && typeof (c as ArrayLike<number>).length !== 'number')) {
    throw new SeqrecError('invalid_argument', 'categories must be an array indexed by item or a Map from item to category', {
      field: 'categories',
    });
  }
}

/** Greedy selection for one user's candidates [offset, offset + count) into out* at outOffset. */
function selectInto(
  ids: Int32Array,
  scores: Float32Array,
  offset: number,
  count: number,
  k: number,
  options: ControllableOptions,
  exclude: ReadonlySet<number> | null,
  outIds: Int32Array,
  outScores: Float32Array,
  outOffset: number,
): void {
  const best = new Map<number, number>();
  bestScorePerItem(ids, scores, offset, count, exclude, best);
  const cand = [...best.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const cats = cand.map(([id]) => categoryOf(options.categories, id));
  const taken = new Uint8Array(cand.length);
  const picked = new Map<number, number>(); // category -> count
  const lambda = options.lambda;
  let first = 0; // first candidate not yet taken
  for (let slot = 0; slot < k; slot++) {
    while (first < cand.length && taken[first]) first++;
    if (first >= cand.length) {
      outIds.fill(-1, outOffset + slot, outOffset + k);
      outScores.fill(-Infinity, outOffset + slot, outOffset + k);
      return;
    }
    let bestIndex = -1;
    let bestQ = -Infinity;
    for (let j = first; j < cand.length; j++) {
      if (taken[j]) continue;
      const s = cand[j][1];
      if (bestIndex >= 0 && s < bestQ) break; // Q <= s for every later candidate
      const c = cats[j];
      const q = c < 0 || lambda === 0 ? s : s - lambda * (picked.get(c) ?? 0);
      if (bestIndex < 0 || q > bestQ) {
        bestIndex = j;
        bestQ = q;
      }
    }
    taken[bestIndex] = 1;
    const c = cats[bestIndex];
    if (c >= 0) picked.set(c, (picked.get(c) ?? 0) + 1);
    outIds[outOffset + slot] = cand[bestIndex][0];
    outScores[outOffset + slot] = cand[bestIndex][1];
  }
}

/**
 * One user's controllable aggregation. `ids`/`scores` hold `interests * perInterest`
 * candidates (e.g. the K per-interest top-perInterest lists of a search). Returns k items
 * in selection order with their raw scores; missing slots are -1 / -Infinity.
 */
export function controllableAggregate(
  ids: Int32Array,
  scores: Float32Array,
  interests: number,
  perInterest: number,
  k: number,
  options: ControllableOptions & { exclude?: ExcludeList | null },
): TopKResult {
  check(interests, perInterest, k, options);
  const count = checkCandidateArrays(ids, scores, interests, perInterest);
  const out: TopKResult = { ids: new Int32Array(k), scores: new Float32Array(k) };
  selectInto(ids, scores, 0, count, k, options, toExcludeSet(options.exclude), out.ids, out.scores, 0);
  return out;
}

/**
 * {@link controllableAggregate} for many users: `ids`/`scores` are
 * [numQueries, interests, perInterest] flattened; `exclude` (optional) has one entry per user.
 */
export function controllableAggregateBatch(
  ids: Int32Array,
  scores: Float32Array,
  interests: number,
  perInterest: number,
  k: number,
  options: ControllableOptions & { exclude?: ReadonlyArray<ExcludeList | null | undefined> },
): SearchResult {
  check(interests, perInterest, k, options);
  const count = interests * perInterest;
  const exclude = options.exclude;
  const numQueries = checkCandidateBatch(ids, scores, count, exclude);
  const result: SearchResult = { k, numQueries, ids: new Int32Array(numQueries * k), scores: new Float32Array(numQueries * k) };
  for (let u = 0; u < numQueries; u++) {
    selectInto(ids, scores, u * count, count, k, options, exclude ? toExcludeSet(exclude[u]) : null, result.ids, result.scores, u * k);
  }
  return result;
}

/**
 * ComiRec's diversity of a recommendation list: the share of item pairs whose categories
 * differ, Σ_{i<j} [cat(i) ≠ cat(j)] / (n(n−1)/2). Ids <= 0 are ignored; items without a
 * category count as a category of their own. Lists of fewer than 2 items give 0.
 */
export function categoryDiversity(ids: ArrayLike<number>, categories: CategoryMap): number {
  const cats: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id <= 0) continue;
    const c = categoryOf(categories, id);
    cats.push(c < 0 ? -1 - id : c); // unique negative code per uncategorised item
  }
  const n = cats.length;
  if (n < 2) return 0;
  let differ = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (cats[i] !== cats[j]) differ++;
  return differ / ((n * (n - 1)) / 2);
}
