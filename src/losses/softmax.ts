import * as tf from '@tensorflow/tfjs-core';
import { softmaxNormaliser } from '../ops/log-sum-exp.js';
import type { LossInput } from './types.js';

/**
 * Full softmax cross-entropy over every real item (the tutorial's and RecBole's "CE" recipe):
 *
 *   loss = mean_b [ log Σ_{j=1..N} exp(u_b · e_j)  −  u_b · e_{t_b} ]
 *
 * Padding (row 0) is excluded from the normaliser (its first row is 1), so it gets no gradient.
 * The target logit is computed as a row-wise dot product instead of gathering from the
 * [B, N] logit matrix, which saves a gather and its gradient.
 */
export function softmaxCrossEntropy(input: LossInput): tf.Scalar {
  return tf.tidy(() => {
    const { user, items, targetEmbeddings } = input;
    const logNormaliser = softmaxNormaliser(user, items, 1);
    const targetLogit = tf.sum(tf.mul(user, targetEmbeddings), 1);
    return tf.mean(tf.sub(logNormaliser, targetLogit)) as tf.Scalar;
  });
}
