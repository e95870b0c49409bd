/**
 * The public types of `Recommender` (options, answers, info), kept apart from its
 * implementation; the HTTP schemas (schemas.ts) are checked against them.
 */
import type { SequenceDataset } from '../data/dataset.js';
import type { ItemVocabulary } from '../data/vocabulary.js';
import type { PgvectorConnectOptions } from '../retrieval/pgvector/options.js';
import type { CooccurrenceTable } from '../bundle/cold-start.js';
import type { FallbackKind, FallbackOptions } from './fallbacks.js';

export type { FallbackKind, FallbackOptions } from './fallbacks.js';

export interface RecommenderOptions {
  /** Largest k accepted by `recommend`, `recommendMany` and `similarItems`. Default 1000. */
  maxK?: number;
  /** Longest history accepted (entries, known or not). Default 1000. */
  maxHistory?: number;
  /** Most histories per `recommendMany` call. Default 256. */
  maxBatch?: number;
  /**
   * Retriever for `recommend`: 'exact' (brute force, exact), 'faiss' (the bundle's faiss
   * index; an error when it has none or faiss-node does not load), 'auto' (default): faiss
   * when the bundle has an index and faiss-node loads, else exact. 'pgvector': the bundle's
   * item table in PostgreSQL (written by `seqrec export --to`, picked by the bundle's digest;
   * needs the `pgvector` option); its answers are asynchronous, so call `recommendAsync` /
   * `recommendManyAsync`.
   */
  retriever?: 'auto' | 'exact' | 'faiss' | 'pgvector';
  /** Retriever 'pgvector': where the database is and the search parameters (docs/serving.md). */
  pgvector?: PgvectorConnectOptions;
  /** Similarity of `similarItems`. Default 'cosine' (inner product favours long, popular item vectors). */
  similarItemsMetric?: 'cosine' | 'ip';
  /** Run one of each call after loading so the first real call is not slow. Default true. */
  warmUp?: boolean;
  /**
   * Milliseconds a `reload` may spend loading before it fails with code 'timeout' (the old
   * bundle keeps serving; later reloads do not wait for the stuck one). Default 30000.
   */
  reloadTimeoutMs?: number;
  /**
   * The cold-start fallbacks (docs/serving.md, "Cold start"): `popular` answers an empty or
   * all-unknown history ('popularity': all-time training counts, default; 'recent-popularity':
   * the bundle's recent counts); `cooccurrence` ('auto' default, 'on', 'off') answers a history
   * of cold items from the bundle's co-occurrence table; `shortHistory` (default 0) sends
   * histories of at most that many known items there too. Asking for data the bundle lacks is
   * an `invalid_config` error at load.
   */
  fallback?: FallbackOptions;
}

/** `Recommender.fromModel`: a trained model in memory, its item ids and (optionally) popularity. */
export interface FromModelOptions extends Omit<RecommenderOptions, 'retriever' | 'pgvector'> {
  /** The training dataset: gives the vocabulary and, unless `popularity` is set, the counts. */
  dataset?: Pick<SequenceDataset, 'vocabulary' | 'itemPopularity'>;
  /** The item ids (when no dataset is given). */
  vocabulary?: ItemVocabulary;
  /** Training counts per item index (length itemCount) for the fallback; default the dataset's, else all zero. */
  popularity?: ArrayLike<number>;
  /** Recent training counts per item index, for `fallback.popular: 'recent-popularity'` (`coldStartTables(dataset).recentPopularity.counts`). */
  recentPopularity?: ArrayLike<number>;
  /** The co-occurrence table of the 'cooccurrence' fallback (`coldStartTables(dataset).cooccurrence`). */
  cooccurrence?: CooccurrenceTable;
  /** Similarity of `recommend`. Default 'ip' (what training optimises). */
  similarity?: 'ip' | 'cosine';
}

export interface RecommendOptions {
  /** Items to return, 1..maxK. Default 10. */
  k?: number;
  /** Leave out the items of the history (all of it, not just the model's window). Default true. */
  excludeSeen?: boolean;
  /**
   * Multi-interest models: 'merge' (default) pools the K interests' top-k by score (ComiRec's
   * evaluation); a number 0..K-1 uses only that interest.
   */
  interests?: 'merge' | number;
}

export interface ScoredItem {
  /** Raw item id. */
  id: string;
  /**
   * Retrieval score (inner product or cosine); a neighbourhood model's score; for the popular
   * fallbacks the (recent) training count; for 'cooccurrence' the summed similarity (0 for the
   * popular items that fill the rest of the list).
   */
  score: number;
}

export interface Recommendation {
  /** Best first; shorter than k only when fewer candidate items exist. */
  items: ScoredItem[];
  /** History ids not in the vocabulary (skipped), in first-seen order, without duplicates. */
  unknown: string[];
  /**
   * null when the model answered; else the fallback that did: 'popularity' or
   * 'recent-popularity' (no known item, or only cold items without co-occurring items),
   * 'cooccurrence' (only cold items, or a short history; docs/serving.md, "Cold start").
   */
  fallback: null | FallbackKind;
  /** Why the fallback was used. */
  reason?: string;
}

/** An item id as accepted from callers: a raw id string, or a number (converted with `String`). */
export type ItemId = string | number;

export interface RecommenderInfo {
  dir: string;
  model: string;
  /** Real items (padding not counted). */
  numItems: number;
  /** 0 for a neighbourhood model (no embeddings). */
  embeddingDim: number;
  numInterests: number;
  /** The model's window; 0 for a neighbourhood model (it reads the whole history it is given). */
  maxLen: number;
  similarity: 'ip' | 'cosine';
  /** 'none' for a neighbourhood model (it ranks items itself). */
  retriever: 'exact' | 'faiss' | 'pgvector' | 'none';
  /** The cold-start fallbacks in force. */
  fallback: { popular: 'popularity' | 'recent-popularity'; cooccurrence: boolean; shortHistory: number };
  /** SHA-256 of the bundle's model.json ('' for a model in memory). */
  bundleDigest: string;
  bundleVersion: number;
  bundleCreatedAt: string;
  /** When this state was loaded (ISO). */
  loadedAt: string;
  /** 1 for the first load, +1 per successful reload. */
  generation: number;
  limits: { maxK: number; maxHistory: number; maxBatch: number };
}

export interface Limits {
  maxK: number;
  maxHistory: number;
  maxBatch: number;
}
