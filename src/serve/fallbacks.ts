/**
 * The cold-start fallbacks of `Recommender` (docs/serving.md, "Cold start"): which histories
 * the model does not answer, and what answers them instead.
 *
 * - An empty history, or one with no id in the vocabulary, has nothing to go on: the popular
 *   items answer, by all-time training counts ('popularity', the default) or by the bundle's
 *   recent counts ('recent-popularity').
 * - A history whose known items are all *cold* (in the vocabulary, but never trained: no
 *   training event and not a warm start's parent row, so the model's rows for them are its
 *   initialisation) gets nothing useful from the model. With the bundle's co-occurrence
 *   table, such a history is answered from its items' co-occurring items ('cooccurrence');
 *   without it, or when none of its items co-occurs with anything, by the popular items.
 * - Optionally (`shortHistory`), histories of at most that many known items are answered from
 *   the co-occurrence table too, when it has neighbours for them (else the model answers).
 *
 * Co-occurrence scores: score(j) = Σ over the distinct known items i of the history of
 * sim(i, j) (the table's ItemKNN similarity), best first, ties to the lower index; slots the
 * neighbours do not fill are filled with the popular items at score 0.
 */
import { z } from 'zod';
import type { CooccurrenceTable } from '../bundle/cold-start.js';
import { popularityRanking } from '../train/evaluate.js';
import { parseWith } from '../util/schema.js';
import { SeqrecError } from '../errors.js';

export type FallbackKind = 'popularity' | 'recent-popularity' | 'cooccurrence';

export const FallbackOptionsSchema = z.strictObject({
  /** What answers an empty or all-unknown history (and fills short lists): all-time or recent training counts. Default 'popularity'. */
  popular: z.enum(['popularity', 'recent-popularity']).default('popularity'),
  /** The co-occurrence fallback: 'auto' (default) when the bundle has the table, 'on' (an error without it), 'off'. */
  cooccurrence: z.enum(['auto', 'on', 'off']).default('auto'),
  /** Histories of at most this many known items are answered from the co-occurrence table too. Default 0 (none). */
  shortHistory: z.int().min(0).max(1_000_000).default(0),
});
/** `Recommender`'s `fallback` option. */
export type FallbackOptions = z.input<typeof FallbackOptionsSchema>;

/** The popular items of one kind: counts and their order. */
export interface PopularItems {
  kind: 'popularity' | 'recent-popularity';
  counts: Float64Array;
  /** Item indices by count descending (ties: lower index), padding left out. */
  order: Int32Array;
}

/** The fallbacks in force for one loaded state. */
export interface Fallbacks {
  popular: PopularItems;
  /** The table, or null when the co-occurrence fallback is off. */
  cooccurrence: CooccurrenceTable | null;
  shortHistory: number;
}

/** What the bundle (or the in-memory source) has for the fallbacks. */
export interface FallbackData {
  popularity: Float64Array;
  recentPopularity: Float64Array | null;
  cooccurrence: CooccurrenceTable | null;
  /** A neighbourhood model: the co-occurrence fallback does not apply. */
  ranker: boolean;
}

function config(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_config', message, { field });
}

/** Checks `options` and resolves them against what the bundle has; errors name the option. */
export function resolveFallbacks(options: FallbackOptions | undefined, data: FallbackData, where: string): Fallbacks {
  const o = parseWith(FallbackOptionsSchema, options ?? {}, { where: `${where}: fallback`, prefix: 'fallback' });
  let counts = data.popularity;
  if (o.popular === 'recent-popularity') {
    if (!data.recentPopularity) {
      throw config(
        'fallback.popular',
        `${where}: fallback.popular 'recent-popularity' needs recent counts, and this bundle has no recent-popularity.json (exported before seqrec had it, or without recentPopularity); re-export it or use 'popularity'`,
      );
    }
    counts = data.recentPopularity;
  }
  let cooccurrence: CooccurrenceTable | null = null;
  if (o.cooccurrence === 'on') {
    if (data.ranker)
      throw config('fallback.cooccurrence', `${where}: fallback.cooccurrence 'on' does not apply to a neighbourhood model (it ranks by co-occurrence itself)`);
    if (!data.cooccurrence) {
      throw config(
        'fallback.cooccurrence',
        `${where}: fallback.cooccurrence 'on' needs the co-occurrence table, and this bundle has no cooccurrence.bin (exported before seqrec had it, or without cooccurrence); re-export it or use 'auto'/'off'`,
      );
    }
  }
  if (o.cooccurrence !== 'off' && !data.ranker) cooccurrence = data.cooccurrence;
  if (o.shortHistory > 0 && !cooccurrence) {
    throw config(
      'fallback.shortHistory',
      `${where}: fallback.shortHistory answers short histories from the co-occurrence table, which is off or not in this bundle`,
    );
  }
  return { popular: popularItems(o.popular, counts), cooccurrence, shortHistory: o.shortHistory };
}

export function popularItems(kind: PopularItems['kind'], counts: Float64Array): PopularItems {
  return { kind, counts, order: popularityRanking(counts, Math.max(0, counts.length - 1)) };
}

/** Which fallback answers a history with these known item indices, or null for the model. */
export function coldRoute(f: Fallbacks, known: readonly number[]): 'cold' | 'short' | null {
  const co = f.cooccurrence;
  if (!co || known.length === 0) return null;
  if (known.every((i) => co.cold[i] === 1)) return 'cold';
  return known.length <= f.shortHistory ? 'short' : null;
}

/**
 * The co-occurrence answer (indices and scores, best first, at most k), or null when none of
 * the history's items has a neighbour outside `exclude`.
 */
export function cooccurrenceItems(
  co: CooccurrenceTable,
  popular: PopularItems,
  known: readonly number[],
  k: number,
  exclude: ReadonlySet<number> | null,
): { ids: number[]; scores: number[] } | null {
  const scores = new Map<number, number>();
  for (const i of new Set(known)) {
    for (let e = co.offsets[i]; e < co.offsets[i + 1]; e++) {
      const j = co.ids[e];
      if (exclude?.has(j)) continue;
      scores.set(j, (scores.get(j) ?? 0) + co.sims[e]);
    }
  }
  const scored = [...scores].filter(([, s]) => s > 0);
  if (scored.length === 0) return null;
  scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  const ids = scored.slice(0, k).map(([j]) => j);
  const out = { ids, scores: scored.slice(0, k).map(([, s]) => s) };
  const listed = new Set(ids);
  for (let f = 0; out.ids.length < k && f < popular.order.length; f++) {
    const j = popular.order[f];
    if (listed.has(j) || exclude?.has(j)) continue;
    out.ids.push(j);
    out.scores.push(0);
  }
  return out;
}

/** The `reason` of a fallback answer. */
export function fallbackReason(kind: 'empty' | 'unknown' | 'cold' | 'cold-isolated' | 'short', n: number, shortHistory = 0): string {
  switch (kind) {
    case 'empty':
      return 'empty history';
    case 'unknown':
      return `none of the history's item ids are in the vocabulary (${n} unknown)`;
    case 'cold':
      return `every known history item (${n}) is cold: never trained, so the model has no signal for it; answered from co-occurring items`;
    case 'cold-isolated':
      return `every known history item (${n}) is cold and none has co-occurring items`;
    case 'short':
      return `short history (${n} known item${n === 1 ? '' : 's'}, at most ${shortHistory}): answered from co-occurring items`;
  }
}
