/**
 * In-batch negatives (Hidasi et al. 2016's mini-batch sampling; Yi et al., "Sampling-bias-
 * corrected neural modeling for large corpus item recommendations", RecSys 2019): the other
 * rows' targets are row b's negatives, optionally with extra negatives shared by the batch
 * (mixed negative sampling, Yang et al. WWW 2020; GRU4Rec's `n_sample`), softmax cross-entropy
 * over them (see sampled-softmax.ts for the formula).
 *
 * In-batch negatives follow the training-target distribution, so popular items are pushed
 * down more often than they would be by a full softmax; logQ corrects for it with
 * q_batch(j) = count_j / Σ count (`dataset.itemPopularity()`). Accidental hits (another row
 * with the same target item) are excluded, as is the row's own column (its positive).
 */
import { DEFAULT_SAMPLE_ALPHA } from './samplers.js';
import { sampledSoftmax, type SampledSoftmaxOptions } from './sampled-softmax.js';
import type { ContextualLoss } from './types.js';

export type InBatchOptions = Omit<SampledSoftmaxOptions, 'inBatch'>;

export const DEFAULT_IN_BATCH: Readonly<InBatchOptions> = Object.freeze({ numNegatives: 0, logQ: true });

/** `inBatchSoftmax({ numNegatives, sampler, logQ })`: in-batch negatives (+ optional extra shared samples). */
export function inBatchSoftmax(options: InBatchOptions = DEFAULT_IN_BATCH): ContextualLoss {
  const extra = (options.numNegatives ?? 0) > 0 || (options.negativesPerRow ?? 0) > 0;
  return sampledSoftmax(
    { ...options, sampler: extra ? (options.sampler ?? { kind: 'popularity', alpha: DEFAULT_SAMPLE_ALPHA }) : undefined, inBatch: true },
    'in-batch',
  );
}
