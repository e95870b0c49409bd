/**
 * The data shapes that flow between loaders, datasets, models and evaluation.
 *
 * Conventions (used everywhere in seqrec):
 * - Item index 0 is padding; real items are 1..itemCount-1 (`itemCount` includes padding).
 * - Histories are windows of at most `maxLen` items, oldest first, RIGHT-padded with 0
 *   (ComiRec's layout): position 0 holds the oldest item of the window, positions
 *   `length..maxLen-1` are padding with mask 0.
 * - Batches are flat typed arrays in row-major order, never tensors: models turn them
 *   into tensors themselves, so data code never allocates TF.js memory.
 */

/** One user's time-ordered history of raw ids, as read from a file. */
export interface UserSequence {
  /** Raw user id as it appeared in the input. */
  user: string;
  /** Raw item ids, oldest first. */
  items: string[];
  /** Timestamps aligned with `items` (for files without time: the position). */
  timestamps: number[];
}

/** What a loader returns: one sequence per user, plus what happened while reading. */
export interface InteractionLog {
  sequences: UserSequence[];
  stats: LoadStats;
  /**
   * Raw item id -> raw category id, for formats that carry a category (`taobao`); absent
   * otherwise. Holds every item of `sequences`; an item seen with several categories keeps
   * the first (the others are counted in `stats.categoryConflicts`). Turn it into the
   * index-keyed map of controllable aggregation with `categoryIndex(categories, vocabulary)`.
   */
  categories?: Map<string, string>;
}

export interface LoadStats {
  /** Source file (or a description of the source). */
  source: string;
  /** Lines read, including header and skipped lines. */
  lines: number;
  /** Interactions kept. */
  interactions: number;
  /** Malformed lines skipped (only when the caller asked for skipping). */
  skipped: number;
  /** The first few skip reasons, `line N: why`, for the report. */
  skipReasons: string[];
  /** Input format actually used (after auto-detection), when read from a file. */
  format?: string;
  /** Well-formed interactions dropped by a filter such as `minRating` or `behaviors`. */
  filtered?: number;
  /** Kept rows whose item already had a different category (formats with categories only). */
  categoryConflicts?: number;
}

/** Inputs every model consumes: a batch of right-padded history windows. */
export interface SequenceBatch {
  batchSize: number;
  maxLen: number;
  /** [batchSize * maxLen] item indices, 0 = padding. */
  history: Int32Array;
  /** [batchSize * maxLen] 1 for a real item, 0 for padding. */
  mask: Float32Array;
  /** [batchSize] number of real items in each window (>= 1). */
  lengths: Int32Array;
}

/** A training batch: histories and the next item to predict. */
export interface TrainBatch extends SequenceBatch {
  /** [batchSize] target item index (never 0). */
  targets: Int32Array;
  /** [batchSize] dense user index of each row (index into the dataset's users). */
  users: Int32Array;
}

/** An evaluation batch: histories and every held-out item of each user. */
export interface EvalBatch extends SequenceBatch {
  /** Per row, the held-out target items (duplicates kept, as in ComiRec). */
  targets: Int32Array[];
  /** [batchSize] dense user index of each row. */
  users: Int32Array;
}
