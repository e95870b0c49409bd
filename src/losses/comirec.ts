/**
 * ComiRec's training objective as a preset (THUDM/ComiRec `src/model.py`:
 * `tf.nn.sampled_softmax_loss(..., num_sampled = neg_num * batch_size, ...)` with neg_num = 10
 * and TensorFlow's defaults):
 * - sampled softmax with M = 10 × B negatives SHARED by the whole batch (not 10 per row),
 * - drawn from the log-uniform (Zipfian) distribution over item ids, without replacement
 *   (TensorFlow's `unique=True`),
 * - logQ: every logit minus log of its expected count, 1 − (1 − Q(j))^tries,
 * - accidental hits (a sampled id equal to the row's target) removed.
 * ComiRec's zero, non-trainable output bias changes nothing and is left out.
 *
 * Log-uniform sampling approximates popularity sampling only because ids are ranked by
 * decreasing frequency. seqrec's vocabulary numbers items that way by default
 * (`vocabularyOrder: 'frequency'`: index 1 = most frequent); with `'firstSeen'` ids, or a
 * vocabulary loaded from elsewhere, this preset samples an unrelated distribution.
 */
import { sampledSoftmax } from './sampled-softmax.js';
import type { ContextualLoss } from './types.js';

export interface ComiRecLossOptions {
  /** Negatives per row of the batch; M = negativesPerRow × B shared negatives. Default 10. */
  negativesPerRow?: number;
}

export function comirecSampledSoftmax(options: ComiRecLossOptions = {}): ContextualLoss {
  return sampledSoftmax(
    { negativesPerRow: options.negativesPerRow ?? 10, sampler: 'log-uniform', unique: true, logQ: true, removeAccidentalHits: true },
    'comirec-sampled',
  );
}
