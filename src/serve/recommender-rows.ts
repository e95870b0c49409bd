/**
 * The row-level steps of `Recommender`'s calls, as plain functions of the serving state:
 * raw ids in (checked, encoded), scored items out (decoded, or the popular items).
 */
import type { BaseRecaller } from '../models/base.js';
import type { State } from './recommender-state.js';
import { invalidArg, typeOf } from './recommender-options.js';
import type { ItemId, Recommendation, ScoredItem } from './recommender-types.js';

export interface Encoded {
  /** Known item indices in history order (duplicates kept: the model sees the sequence). */
  known: number[];
  unknown: string[];
}

/** A history's known item indices and its unknown ids (first-seen order, no duplicates). */
export function encodeHistory(s: State, maxHistory: number, history: readonly ItemId[], field: string): Encoded {
  if (!Array.isArray(history)) throw invalidArg(field, `${field} must be an array of item ids, got ${typeOf(history)}`);
  if (history.length > maxHistory) {
    throw invalidArg(field, `${field} has ${history.length} items; at most ${maxHistory} are accepted`);
  }
  const known: number[] = [];
  const unknown: string[] = [];
  let seenUnknown: Set<string> | null = null;
  for (let i = 0; i < history.length; i++) {
    const raw = history[i];
    let id: string;
    if (typeof raw === 'string') id = raw;
    else if (typeof raw === 'number' && Number.isSafeInteger(raw)) id = String(raw);
    else throw invalidArg(field, `${field}[${i}] must be an item id (a string or an integer), got ${typeof raw === 'number' ? raw : typeOf(raw)}`);
    const index = s.vocabulary.encode(id);
    if (index !== undefined) known.push(index);
    else {
      seenUnknown ??= new Set();
      if (!seenUnknown.has(id)) {
        seenUnknown.add(id);
        unknown.push(id);
      }
    }
  }
  return { known, unknown };
}

/** The popular items in force (all-time or recent counts), `exclude` left out; `reason` says why. */
export function popularityFallback(s: State, k: number, exclude: ReadonlySet<number> | null, unknown: string[], reason: string): Recommendation {
  const { kind, order, counts } = s.fallbacks.popular;
  const items: ScoredItem[] = [];
  for (let i = 0; i < order.length && items.length < k; i++) {
    const id = order[i];
    if (id <= 0) break;
    if (exclude && exclude.has(id)) continue;
    items.push({ id: s.vocabulary.decode(id), score: counts[id] });
  }
  return { items, unknown, fallback: kind, reason };
}

export function decodeRow(s: State, ids: Int32Array, scores: Float32Array, offset: number, k: number): ScoredItem[] {
  const items: ScoredItem[] = [];
  for (let j = offset; j < offset + k; j++) {
    const id = ids[j];
    if (id <= 0) break; // -1 slots come last
    items.push({ id: s.vocabulary.decode(id), score: scores[j] });
  }
  return items;
}

/** Query rows for `vectors` ([n * K * D]) and the `interests` value for the retriever. */
export function queryRows(model: BaseRecaller, vectors: Float32Array, n: number, interest: number | null): { q: Float32Array; interests: number } {
  const K = model.numInterests;
  const D = model.embeddingDim;
  if (interest === null) return { q: vectors, interests: K };
  const q = new Float32Array(n * D);
  for (let r = 0; r < n; r++) q.set(vectors.subarray((r * K + interest) * D, (r * K + interest + 1) * D), r * D);
  return { q, interests: 1 };
}
