/** The options of `new FaissRetriever(...)` and `FaissRetriever.load(...)`. */

export interface FaissRetrieverOptions {
  /**
   * faiss index factory string, e.g. 'Flat' (default: exact inner-product search, an
   * IndexFlatIP), 'HNSW32', 'IVF1024,Flat', 'IVF1024,PQ16'. The metric is always inner product
   * (cosine = inner product of L2-normalised vectors). Id-mapping wrappers ('IDMap') are
   * rejected: the retriever maps ids itself.
   */
  factory?: string;
  /** 'ip' (default): inner product. 'cosine': items and queries are L2-normalised first. */
  metric?: 'ip' | 'cosine';
  /**
   * IVF indexes: inverted lists visited per query, 1..nlist. Default: calibrated to
   * `targetRecall` (see there), starting from ceil(nlist / 16).
   */
  nprobe?: number;
  /**
   * HNSW indexes: size of the candidate list during search. Default: calibrated to
   * `targetRecall`, starting from 64. faiss uses max(efSearch, k') where k' is the number of
   * candidates fetched (k plus over-fetch).
   */
  efSearch?: number;
  /**
   * When nprobe (IVF) or efSearch (HNSW) is not given, the smallest power-of-two multiple of
   * the starting value whose recall@`calibrationK` against exact search reaches this target on
   * `calibrationQueries` item vectors used as queries. Default 0.95; 0 turns calibration off
   * (then nprobe = ceil(nlist / 16), efSearch = 512). How many lists or candidates a target
   * needs depends on the data (random vectors have no clusters and need most IVF lists), so a
   * fixed default is either slow on clustered data or inaccurate on diffuse data.
   */
  targetRecall?: number;
  /** Cut-off of the calibration recall. Default 50. */
  calibrationK?: number;
  /** Item vectors (evenly spaced rows) used as calibration queries. Default 200. */
  calibrationQueries?: number;
  /** HNSW indexes: candidate list size while building. Default faiss's 40. */
  efConstruction?: number;
  /**
   * Re-score faiss's candidates exactly (float64 dot products rounded to float32, the same
   * arithmetic as ExactRetriever) and re-rank them by (score desc, id asc). Default true: a
   * 'Flat' index then returns exactly ExactRetriever's lists and scores. Keeps a copy of the
   * item matrix in JS memory (numItems * dim * 4 bytes). With false, faiss's own float32
   * scores and candidates are returned (ties still ordered by id).
   */
  rescore?: boolean;
}

export interface FaissLoadOptions {
  /**
   * The item matrix the index was built from (row 0 padding). Checked against the
   * fingerprint in the sidecar; needed for `rescore`.
   */
  itemVectors?: Float32Array;
  /** Expected embedding dimension; a different one in the file is an error. */
  dim?: number;
  /** Expected number of item rows (padding included); a different one is an error. */
  numItems?: number;
  /** Expected metric; a different one in the file is an error. */
  metric?: 'ip' | 'cosine';
  /** Default: true when `itemVectors` is given (it is required for true). */
  rescore?: boolean;
  /** Override the saved nprobe (IVF). */
  nprobe?: number;
  /** Override the saved efSearch (HNSW). */
  efSearch?: number;
}
