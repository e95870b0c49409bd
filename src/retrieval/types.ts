/**
 * The retrieval contract shared by the exact (brute-force) retriever and index-based ones.
 * Item ids are dense row indices into the item-embedding matrix; row 0 is padding and is
 * never returned.
 */

export interface SearchOptions {
  /** Items to return per query row (user). Integer >= 1. */
  k: number;
  /** K, the number of interest vectors per user (multi-interest models); default 1. */
  interests?: number;
  /**
   * Per query row (user): item ids that must not be returned, e.g. the user's history.
   * When given, its length must equal the number of users; `null`/`undefined` entries mean
   * "exclude nothing" for that user.
   */
  exclude?: ReadonlyArray<ArrayLike<number> | null | undefined>;
}

export interface SearchResult {
  /** Slots per user. */
  k: number;
  /** Users (query rows after grouping the K interests of each user). */
  numQueries: number;
  /** [numQueries * k] item ids, best first; -1 where fewer than k items exist. */
  ids: Int32Array;
  /** Same layout as `ids`; -Infinity in the -1 slots. */
  scores: Float32Array;
}

export interface Retriever {
  /** Embedding dimension. */
  readonly dim: number;
  /** Rows of the item matrix, including the padding row 0. */
  readonly numItems: number;
  /** Similarity: inner product, or cosine (inner product of L2-normalised vectors). */
  readonly metric: 'ip' | 'cosine';
  /**
   * Top-k items for each user. `queries` is [numQueries, K, dim] flattened, K =
   * `options.interests ?? 1`; with K > 1 the K per-interest top-k lists are pooled (see
   * `mergeInterestCandidates`).
   */
  search(queries: Float32Array, options: SearchOptions): SearchResult;
  /** Releases the retriever's memory; `search` fails afterwards. */
  dispose(): void;
}

/**
 * A retriever whose `search` answers with a promise: its items live in another process (a
 * database), so every search is a round trip. Same ids, scores, padding, exclusion and
 * multi-interest merge as `Retriever`. Callers with an async retriever await each search;
 * `isAsyncRetriever` tells the two kinds apart.
 */
export interface AsyncRetriever {
  readonly dim: number;
  readonly numItems: number;
  readonly metric: 'ip' | 'cosine';
  /** Always true: the mark `isAsyncRetriever` checks. */
  readonly answersAsync: true;
  search(queries: Float32Array, options: SearchOptions): Promise<SearchResult>;
  /** Waits for the searches in flight, then closes the connections; `search` fails afterwards. */
  dispose(): Promise<void>;
}

export function isAsyncRetriever(r: Retriever | AsyncRetriever): r is AsyncRetriever {
  return (r as Partial<AsyncRetriever>).answersAsync === true;
}
