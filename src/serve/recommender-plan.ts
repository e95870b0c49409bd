/**
 * `Recommender.recommend` / `recommendMany` as plain functions of the serving state: checks
 * and encoding, the routing of each history (fallbacks.ts: popular items, co-occurrence, or
 * the model), the neighbourhood models' `rank`, and one model call for the histories the
 * embedding model answers. `finishPlan` turns the retriever's result into the answers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { windowBatch } from '../data/windows.js';
import type { SearchResult } from '../retrieval/types.js';
import type { BaseRecaller } from '../models/base.js';
import { coldRoute, cooccurrenceItems, fallbackReason } from './fallbacks.js';
import { checkK, invalidArg, typeOf } from './recommender-options.js';
import { decodeRow, encodeHistory, popularityFallback, queryRows, type Encoded } from './recommender-rows.js';
import type { State } from './recommender-state.js';
import type { ItemId, Limits, Recommendation, RecommendOptions, ScoredItem } from './recommender-types.js';

/** A `recommend` call up to its retrieval: what `finishPlan` needs to turn the search result into answers. */
export interface Plan {
  k: number;
  encoded: Encoded[];
  /** Answers decided without the retriever (fallbacks, neighbourhood models), by history index. */
  done: (Recommendation | undefined)[];
  /** Indices of the histories the embedding model answers (those searched). */
  rows: number[];
  /** The search arguments, or null when no history is searched. */
  search: { q: Float32Array; interests: number; exclude: number[][] | undefined } | null;
}

export function resolveOptions(s: State, maxK: number, options: RecommendOptions): { k: number; excludeSeen: boolean; interest: number | null } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArg('options', `options must be an object like {k, excludeSeen, interests}, got ${typeOf(options)}`);
  }
  // Never more than the catalogue: k only sizes the result buffers.
  const k = Math.min(checkK(options.k ?? 10, maxK), s.vocabulary.numItems);
  const excludeSeen = options.excludeSeen ?? true;
  if (typeof excludeSeen !== 'boolean') throw invalidArg('excludeSeen', `excludeSeen must be a boolean, got ${typeOf(excludeSeen)}`);
  const interests = options.interests ?? 'merge';
  let interest: number | null = null;
  if (interests !== 'merge') {
    const K = s.embedder?.model.numInterests ?? 1;
    if (typeof interests !== 'number' || !Number.isInteger(interests) || interests < 0 || interests >= K) {
      throw invalidArg(
        'interests',
        `interests must be 'merge' or an interest index in 0..${K - 1} (${s.modelName} has ${K}), got ${JSON.stringify(interests)}`,
      );
    }
    interest = K === 1 ? null : interests;
  }
  return { k, excludeSeen, interest };
}

/** [rows * K * D] user embeddings for known-item histories (each non-empty). */
export function embedRows(model: BaseRecaller, rows: number[][]): Float32Array {
  const batch = windowBatch(rows, model.maxLen);
  const t = tf.tidy(() => model.userEmbeddings(batch));
  try {
    // A copy: backends may hand out their own buffer.
    return Float32Array.from(t.dataSync() as Float32Array);
  } finally {
    t.dispose();
  }
}

function scored(s: State, ids: readonly number[], scores: readonly number[]): ScoredItem[] {
  return ids.map((id, r) => ({ id: s.vocabulary.decode(id), score: scores[r] }));
}

/**
 * Checks, encoding and routing; one `rank` call (neighbourhood models) or one model call (the
 * histories an embedding model answers). Errors name `field` ('history' for `recommend`).
 */
export function planRecommend(
  s: State,
  limits: Limits,
  histories: readonly (readonly ItemId[])[],
  options: RecommendOptions,
  field: 'history' | 'histories',
): Plan {
  const { k, excludeSeen, interest } = resolveOptions(s, limits.maxK, options);
  if (field === 'histories') {
    if (!Array.isArray(histories)) throw invalidArg('histories', `histories must be an array of histories, got ${typeOf(histories)}`);
    if (histories.length > limits.maxBatch) {
      throw invalidArg('histories', `histories has ${histories.length} entries; at most ${limits.maxBatch} per call are accepted`);
    }
  }
  const encoded = histories.map((h, i) => encodeHistory(s, limits.maxHistory, h, field === 'history' ? 'history' : `histories[${i}]`));
  const done = new Array<Recommendation | undefined>(histories.length);
  const rows: number[] = [];
  const f = s.fallbacks;
  encoded.forEach((e, i) => {
    const { known, unknown } = e;
    if (known.length === 0) {
      done[i] = popularityFallback(s, k, null, unknown, fallbackReason(histories[i].length === 0 ? 'empty' : 'unknown', unknown.length));
      return;
    }
    const route = s.ranker ? null : coldRoute(f, known);
    if (route && f.cooccurrence) {
      const seen = excludeSeen ? new Set(known) : null;
      const co = cooccurrenceItems(f.cooccurrence, f.popular, known, k, seen);
      // The cold reasons count distinct items, the short one the entries its rule counts.
      const n = route === 'short' ? known.length : new Set(known).size;
      if (co) done[i] = { items: scored(s, co.ids, co.scores), unknown, fallback: 'cooccurrence', reason: fallbackReason(route, n, f.shortHistory) };
      else if (route === 'cold') done[i] = popularityFallback(s, k, seen, unknown, fallbackReason('cold-isolated', n));
      if (done[i]) return;
    }
    rows.push(i);
  });
  if (rows.length === 0) return { k, encoded, done, rows, search: null };
  const known = rows.map((i) => encoded[i].known);
  if (s.ranker) {
    const ranked = s.ranker.rank(known, k, excludeSeen ? known : undefined);
    rows.forEach((i, r) => (done[i] = { items: decodeRow(s, ranked.ids, ranked.scores, r * k, k), unknown: encoded[i].unknown, fallback: null }));
    return { k, encoded, done, rows: [], search: null };
  }
  const model = s.embedder!.model;
  const { q, interests } = queryRows(model, embedRows(model, known), rows.length, interest);
  return { k, encoded, done, rows, search: { q, interests, exclude: excludeSeen ? known : undefined } };
}

/** The answers of a plan, given its search result (null when nothing was searched). */
export function finishPlan(s: State, plan: Plan, result: SearchResult | null): Recommendation[] {
  const { k, encoded, rows, done } = plan;
  const out = done.slice() as Recommendation[];
  if (result) {
    rows.forEach((i, r) => {
      out[i] = { items: decodeRow(s, result.ids, result.scores, r * k, k), unknown: encoded[i].unknown, fallback: null };
    });
  }
  return out;
}
