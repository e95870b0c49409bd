/**
 * Full-ranking evaluation: every held-out user's history -> user embeddings -> exact top-N
 * over all items -> recall / NDCG / hit rate averaged over users.
 *
 * Protocol facts stated once: ranking is over ALL items (no sampled negatives), padding is
 * never returned, history items are NOT removed unless `exclude` says so (ComiRec's
 * evaluation keeps them), multi-interest users are merged by score (ComiRec's evaluate_full).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceDataset } from '../data/dataset.js';
import type { EvalBatch } from '../data/types.js';
import { MetricAccumulator, type MetricReport } from '../metrics/index.js';
import { ExactRetriever } from '../retrieval/exact.js';
import { FaissRetriever, faissAvailable } from '../retrieval/faiss.js';
import type { Retriever } from '../retrieval/types.js';
import type { BaseRecaller } from '../models/base.js';
import { isItemRanker, type ItemRanker } from '../models/knn/ranker.js';
import { SeqrecError } from '../errors.js';
import { historyCut } from '../data/split.js';

export interface EvaluationOptions {
  /** Cutoffs. Default [20, 50]. */
  ns?: number[];
  /** Users per batch. Default 512. */
  batchSize?: number;
  /** Retrieval similarity: raw inner product (what training optimises; ComiRec's code) or cosine. Default 'ip'. */
  similarity?: 'ip' | 'cosine';
  /**
   * Items removed from each user's ranking (the list is still filled to k with others):
   * 'none' (default; ComiRec's protocol), 'window' (the up to maxLen items fed to the model),
   * or 'history' (every item of the user's sequence before the held-out part, the "filter
   * seen" protocol; under leave-one-out the test history includes the valid item).
   */
  exclude?: 'none' | 'window' | 'history';
  /** @deprecated Use `exclude: 'window'` (what `excludeHistory: true` always did: the input window only). */
  excludeHistory?: boolean;
  /** A retriever over the model's item embeddings to use instead of a fresh exact one. */
  retriever?: Retriever;
  /**
   * How to build the retriever when `retriever` is not given: 'exact' (ExactRetriever),
   * 'faiss' (FaissRetriever over an IndexFlatIP; fails if faiss-node does not load), or
   * 'auto' (default): faiss when faiss-node loads, else exact. Both give identical metrics:
   * FaissRetriever re-scores its candidates with ExactRetriever's arithmetic.
   */
  retrieval?: 'auto' | 'exact' | 'faiss';
}

export const DEFAULT_NS = [20, 50];

/** Copies the model's item table out of TF.js memory. */
export function itemMatrix(model: BaseRecaller): Float32Array {
  return model.itemEmbeddings().dataSync() as Float32Array;
}

/** [B*K*D] user embeddings of a batch, as plain floats (no tensor survives the call). */
export function userMatrix(model: BaseRecaller, batch: EvalBatch | import('../data/types.js').SequenceBatch): Float32Array {
  const t = tf.tidy(() => model.userEmbeddings(batch));
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

function resolveExclude(options: EvaluationOptions): 'none' | 'window' | 'history' {
  const { exclude, excludeHistory } = options;
  if (exclude !== undefined && exclude !== 'none' && exclude !== 'window' && exclude !== 'history') {
    throw new SeqrecError('invalid_argument', `exclude must be 'none', 'window' or 'history', got ${String(exclude)}`, { field: 'exclude' });
  }
  if (excludeHistory !== undefined && typeof excludeHistory !== 'boolean') {
    throw new SeqrecError('invalid_argument', `excludeHistory must be a boolean, got ${String(excludeHistory)}`, { field: 'excludeHistory' });
  }
  const alias = excludeHistory === undefined ? undefined : excludeHistory ? 'window' : 'none';
  if (exclude !== undefined && alias !== undefined && exclude !== alias) {
    throw new SeqrecError(
      'invalid_argument',
      `excludeHistory: ${excludeHistory} (deprecated, = exclude '${alias}') contradicts exclude: '${exclude}'; give exclude only`,
      { field: 'exclude' },
    );
  }
  return exclude ?? alias ?? 'none';
}

/**
 * Length of a user's whole history before its held-out items: the same cut as
 * SequenceDataset.evalBatches (comirec: historyCut of the sequence; loo: all but the last
 * two (valid) or the last one (test)).
 */
export function historyLength(dataset: SequenceDataset, split: 'valid' | 'test', user: number): number {
  const n = dataset.sequence(user).length;
  return dataset.options.protocol === 'comirec' ? historyCut(n, dataset.options.evalRatio) : split === 'valid' ? n - 2 : n - 1;
}

function fullHistoryRows(dataset: SequenceDataset, split: 'valid' | 'test', batch: EvalBatch): Int32Array[] {
  return Array.from(batch.users, (user) => dataset.sequence(user).subarray(0, historyLength(dataset, split, user)));
}

function historyRows(batch: EvalBatch): Int32Array[] {
  const rows: Int32Array[] = [];
  for (let b = 0; b < batch.batchSize; b++) {
    rows.push(batch.history.subarray(b * batch.maxLen, b * batch.maxLen + batch.lengths[b]));
  }
  return rows;
}

function createRetriever(model: BaseRecaller, options: EvaluationOptions): Retriever {
  const mode = options.retrieval ?? 'auto';
  if (mode !== 'auto' && mode !== 'exact' && mode !== 'faiss') {
    throw new SeqrecError('invalid_argument', `retrieval must be 'auto', 'exact' or 'faiss', got ${String(mode)}`, { field: 'retrieval' });
  }
  const metric = options.similarity ?? 'ip';
  if (mode === 'faiss' || (mode === 'auto' && faissAvailable())) {
    return new FaissRetriever(itemMatrix(model), model.embeddingDim, { metric });
  }
  return new ExactRetriever(itemMatrix(model), model.embeddingDim, { metric });
}

/**
 * Ranks every valid or test user of `dataset` (k = the largest cutoff, exclusions applied) and
 * hands each batch with its result to `onBatch`: the one loop of every model evaluation.
 */
export function rankUsers(
  model: BaseRecaller | ItemRanker,
  dataset: SequenceDataset,
  split: 'valid' | 'test',
  options: EvaluationOptions,
  onBatch: (batch: EvalBatch, ranked: { ids: Int32Array; k: number }) => void,
): void {
  const k = Math.max(...(options.ns ?? DEFAULT_NS));
  const exclude = resolveExclude(options);
  const excluded = (batch: EvalBatch) =>
    exclude === 'window' ? historyRows(batch) : exclude === 'history' ? fullHistoryRows(dataset, split, batch) : undefined;
  if (isItemRanker(model)) {
    // A neighbourhood model ranks from the user's whole history, not the model window.
    for (const batch of dataset.evalBatches(split, options.batchSize ?? 512)) {
      onBatch(batch, model.rank(fullHistoryRows(dataset, split, batch), k, excluded(batch)));
    }
    return;
  }
  const retriever = options.retriever ?? createRetriever(model, options);
  try {
    for (const batch of dataset.evalBatches(split, options.batchSize ?? 512)) {
      const queries = userMatrix(model, batch);
      const result = retriever.search(queries, { k, interests: model.numInterests, exclude: excluded(batch) });
      onBatch(batch, { ids: result.ids, k });
    }
  } finally {
    if (!options.retriever) retriever.dispose();
  }
}

/** Evaluates `model` on the valid or test users of `dataset`. */
export function evaluateModel(
  model: BaseRecaller | ItemRanker,
  dataset: SequenceDataset,
  split: 'valid' | 'test',
  options: EvaluationOptions = {},
): MetricReport {
  const acc = new MetricAccumulator({ ns: options.ns ?? DEFAULT_NS });
  rankUsers(model, dataset, split, options, (batch, ranked) => acc.add(ranked, batch.targets));
  return acc.result();
}

/**
 * MostPopular: the same ranking (training interaction counts) for every user, the baseline
 * every sequential model must beat.
 */
export function evaluatePopularity(dataset: SequenceDataset, split: 'valid' | 'test', options: Pick<EvaluationOptions, 'ns' | 'batchSize'> = {}): MetricReport {
  const ns = options.ns ?? DEFAULT_NS;
  const k = Math.max(...ns);
  const ranking = popularityRanking(dataset.itemPopularity(), k);
  const acc = new MetricAccumulator({ ns });
  for (const batch of dataset.evalBatches(split, options.batchSize ?? 512)) {
    for (let b = 0; b < batch.batchSize; b++) acc.addUser(ranking, batch.targets[b]);
  }
  return acc.result();
}

/** The k most frequent items (ties -> lower index), padding excluded. */
export function popularityRanking(counts: ArrayLike<number>, k: number): Int32Array {
  const ids = Array.from({ length: counts.length - 1 }, (_, i) => i + 1);
  ids.sort((a, b) => counts[b] - counts[a] || a - b);
  const out = new Int32Array(k).fill(-1);
  out.set(ids.slice(0, k));
  return out;
}
