/**
 * The contract of the neighbourhood models (ItemKNN, SessionKNN): they have no embeddings, so
 * instead of user and item vectors for a retriever they rank items for a history directly.
 * Evaluation (src/train/evaluate.ts) and `seqrec bench` take either kind of model.
 */
import type { SequenceDataset } from '../../data/dataset.js';
import type { SessionSet } from '../../data/session-parallel.js';
import { SeqrecError } from '../../errors.js';

/** What a neighbourhood model is fitted on: a windowed dataset's train users, or training sessions. */
export type NeighbourhoodSource = SequenceDataset | SessionSet;

/**
 * The training sequences of a source, in its order: a dataset's train users' training parts
 * (`trainSequence`), or every session of a session set (file order, i.e. time order).
 */
export function trainingSequences(source: NeighbourhoodSource): { itemCount: number; sequences: Int32Array[] } {
  if ('trainSequence' in source) return { itemCount: source.itemCount, sequences: Array.from(source.trainUsers, (u) => source.trainSequence(u)) };
  return { itemCount: source.itemCount, sequences: Array.from({ length: source.count }, (_, i) => source.session(i)) };
}

/** Top-k item indices per history, best first, with their scores. */
export interface RankedItems {
  /** [histories * k] item indices (>= 1; -1 only when fewer than k items can be listed). */
  ids: Int32Array;
  /** [histories * k] scores; the popularity fill scores 0. */
  scores: Float32Array;
  k: number;
}

export interface ItemRanker {
  readonly name: string;
  /** Item rows including padding row 0, as the dataset's vocabulary. */
  readonly itemCount: number;
  /** Ranks items for each history (encoded item indices, oldest first); `exclude[h]` are never listed. */
  rank(histories: readonly ArrayLike<number>[], k: number, exclude?: readonly (ArrayLike<number> | undefined)[]): RankedItems;
}

export function isItemRanker(model: object): model is ItemRanker {
  return typeof (model as Partial<ItemRanker>).rank === 'function';
}

/** Items by their count in `sequences`, most frequent first (ties: lower index), padding left out: the fill order. */
export function popularityOrder(itemCount: number, sequences: readonly Int32Array[]): Int32Array {
  const counts = new Float64Array(itemCount);
  for (const seq of sequences) for (const item of seq) counts[item]++;
  const ids = Int32Array.from({ length: itemCount - 1 }, (_, i) => i + 1);
  return ids.sort((a, b) => counts[b] - counts[a] || a - b);
}

/**
 * Writes the top k of the sparse scores `items`/`values` into row `row` of `out`, best first
 * (ties: lower index), skipping `exclude`, then fills the rest from `fill` (most popular first)
 * with score 0: a neighbourhood often scores fewer than k items, and a recaller must return k.
 */
export function writeTopK(
  out: RankedItems,
  row: number,
  items: readonly number[],
  values: Float64Array,
  fill: Int32Array,
  exclude: ArrayLike<number> | undefined,
): void {
  const { k } = out;
  const skip = new Set<number>(exclude ? Array.from(exclude) : []);
  const candidates = items.filter((i) => values[i] > 0 && !skip.has(i));
  candidates.sort((a, b) => values[b] - values[a] || a - b);
  let n = 0;
  for (; n < k && n < candidates.length; n++) {
    out.ids[row * k + n] = candidates[n];
    out.scores[row * k + n] = values[candidates[n]];
  }
  const listed = new Set(candidates.slice(0, n));
  for (let f = 0; n < k && f < fill.length; f++) {
    const item = fill[f];
    if (skip.has(item) || listed.has(item)) continue;
    out.ids[row * k + n] = item;
    out.scores[row * k + n] = 0;
    n++;
  }
  for (; n < k; n++) out.ids[row * k + n] = -1;
}

export function checkK(k: number, model: string): void {
  if (!Number.isInteger(k) || k < 1) throw new SeqrecError('invalid_argument', `${model}.rank: k must be an integer >= 1, got ${String(k)}`, { field: 'k' });
}
