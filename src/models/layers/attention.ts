/**
 * Training-time parts shared by the multi-interest models: label-aware attention (which of a
 * user's K interests a training row is scored with) and the interest-diversity regulariser.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MASKED_LOGIT } from './capsule.js';

export type ReadoutMode = 'soft' | 'hard';

export interface ReadoutOptions {
  /**
   * 'hard': the interest with the largest inner product with the target (ComiRec's code, for
   * MIND, ComiRec-DR and ComiRec-SA; MIND's paper calls this p → ∞). 'soft': MIND's
   * label-aware attention softmax((V e)^p) V.
   */
  mode: ReadoutMode;
  /** p of the soft readout (> 0). Ignored by 'hard'. */
  power: number;
  /** [B, K] 1 = interest in use; unused interests are never selected and get weight 0. */
  active?: tf.Tensor2D | null;
}

/**
 * x^p elementwise. For an integer p this is the literal power of MIND's formula (an even p
 * rewards strongly negative scores too, as the formula says); for a non-integer p the literal
 * power of a negative score is undefined (NaN), so seqrec uses the sign-preserving
 * sign(x)·|x|^p instead.
 */
export function readoutPower(x: tf.Tensor, p: number): tf.Tensor {
  if (p === 1) return x;
  if (Number.isInteger(p)) return tf.pow(x, tf.scalar(p, 'int32'));
  return tf.mul(tf.sign(x), tf.pow(tf.abs(x), p));
}

/**
 * Label-aware attention: the user vector [B, D] a training row is scored with, from the
 * interests V [B, K, D] and the target embeddings e [B, D].
 *
 *   soft:  a = softmax_k((V e)^p),  user = Σ_k a_k v_k      (gradient through a and V)
 *   hard:  user = v_{argmax_k (V e)_k}                      (gradient through the chosen v only)
 */
export function labelAwareAttention(interests: tf.Tensor3D, target: tf.Tensor2D, options: ReadoutOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const k = interests.shape[1];
    // Scores V e: [B, K, D] x [B, D, 1] -> [B, K].
    let scores: tf.Tensor = tf.squeeze(tf.matMul(interests, tf.expandDims(target, 2)), [2]);
    const active = options.active ?? null;
    let weights: tf.Tensor;
    if (options.mode === 'hard') {
      if (active) scores = tf.add(tf.mul(scores, active), tf.mul(tf.sub(1, active), MASKED_LOGIT));
      // A one-hot pick instead of a gather (the wasm backend has no gather gradient); ties go
      // to the lower index, like argmax.
      // (int32 then cast: the wasm backend's OneHot returns zeros when asked for float32 directly.)
      weights = tf.cast(tf.oneHot(tf.argMax(scores, 1), k), 'float32');
    } else {
      let logits = readoutPower(scores, options.power);
      if (active) logits = tf.add(tf.mul(logits, active), tf.mul(tf.sub(1, active), MASKED_LOGIT));
      weights = tf.softmax(logits);
    }
    return tf.squeeze(tf.matMul(tf.expandDims(weights, 1), interests), [1]) as tf.Tensor2D;
  });
}

/**
 * Interest diversity: the mean pairwise cosine similarity between a user's interests,
 * averaged over the batch,
 *
 *   R = mean_b [ Σ_{k≠k'} a_k a_k' cos(v_k, v_k') / Σ_{k≠k'} a_k a_k' ]
 *
 * (a = active interests, all by default; users with fewer than two active interests count
 * 0). Adding w·R to the loss pushes interests apart. Zero vectors have cosine 0 with
 * everything (norms get an epsilon).
 */
export function interestSimilarity(interests: tf.Tensor3D, active?: tf.Tensor2D | null): tf.Scalar {
  return tf.tidy(() => {
    const [b, k] = interests.shape;
    const norms = tf.sqrt(tf.add(tf.sum(tf.square(interests), 2, true), 1e-12));
    const unit = tf.div(interests, norms);
    const gram = tf.matMul(unit, unit, false, true); // [B, K, K]
    const offDiagonal = tf.sub(tf.ones([k, k]), tf.eye(k));
    let pairs: tf.Tensor = tf.tile(tf.expandDims(offDiagonal, 0), [b, 1, 1]);
    if (active) pairs = tf.mul(pairs, tf.mul(tf.expandDims(active, 2), tf.expandDims(active, 1)));
    const total = tf.sum(tf.mul(gram, pairs), [1, 2]);
    const count = tf.sum(pairs, [1, 2]);
    return tf.mean(tf.div(total, tf.maximum(count, 1))) as tf.Scalar;
  });
}
