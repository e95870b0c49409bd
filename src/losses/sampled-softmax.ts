/**
 * Sampled softmax cross-entropy (Jean et al., ACL 2015; Bengio & Senécal 2008), the objective
 * of TensorFlow's `sampled_softmax_loss` (ComiRec, MIND) and of the official GRU4Rec's
 * cross-entropy with `n_sample` extra negatives.
 *
 * For row b with positive t and shared negative columns j ∈ S (usable ones only):
 *
 *   o_t = r_bt − logq · log E(t),   o_j = r_bj − logq · log E(j)
 *   loss_b = −o_t + log( exp(o_t) + Σ_{j ∈ S, usable} exp(o_j) )
 *   loss   = mean_b loss_b
 *
 * r = u_b · e_j is the score, E(j) the expected count of j among the candidates (see
 * candidates.ts; one source: E(j) = M · Q(j), and the constant M cancels); with
 * `logQForm: 'gru4rec'` log E is replaced by the official GRU4Rec's log count_j (positive,
 * in-batch columns) and α · log count_j (drawn columns). Excluded columns
 * (accidental hits, the row's own in-batch column) get logit −∞, i.e. they leave the softmax.
 * With every item as a negative and uniform Q, this is exactly the full softmax (tested).
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildCandidates, contextualLoss, planNegatives, type LogQOption, type NegativeOptions } from './candidates.js';
import { logSumExpRows } from '../ops/log-sum-exp.js';
import { tensorFilledBy } from '../backend/memory.js';
import { DEFAULT_SAMPLE_ALPHA } from './samplers.js';
import type { ContextualLoss, LossFunction } from './types.js';

export interface ScoredColumns {
  /** [B] positive scores r_bt. */
  positive: tf.Tensor1D;
  /** [B, M] negative scores r_bj. */
  negatives: tf.Tensor2D;
  /** [B * M] 1 = usable, 0 = excluded; null = all usable. */
  valid?: Float32Array | null;
}

export interface LogQTerms {
  /** [B] logq · log E(t_b), subtracted from the positives. */
  logQPositive?: Float32Array;
  /** [M] logq · log E(j), subtracted from the negative columns. */
  logQNegatives?: Float32Array;
}

/** The formula above on given scores (pure; call inside a tidy or dispose the result). */
export function sampledSoftmaxFromScores(s: ScoredColumns & LogQTerms): tf.Scalar {
  return tf.tidy(() => {
    const [b, m] = s.negatives.shape;
    let positive: tf.Tensor = s.positive;
    if (s.logQPositive) positive = tf.sub(positive, tf.tensor1d(s.logQPositive));
    let negatives: tf.Tensor = s.negatives;
    if (s.valid || s.logQNegatives) {
      // One constant [B, M] bias: −logq·log E(j) for usable columns, −∞ for excluded ones.
      const { valid, logQNegatives } = s;
      const row = logQNegatives ? Float32Array.from(logQNegatives, (x) => -x) : null;
      const bias = tensorFilledBy([b, m], (out) => {
        for (let r = 0; r < b; r++) {
          if (row) out.set(row, r * m);
          else out.fill(0, r * m, (r + 1) * m);
        }
        if (valid) for (let i = 0; i < b * m; i++) if (!(valid[i] > 0)) out[i] = -Infinity;
      });
      negatives = tf.add(negatives, bias);
    }
    return tf.mean(tf.sub(logSumExpRows(tf.expandDims(positive, 1) as tf.Tensor2D, negatives as tf.Tensor2D), positive)) as tf.Scalar;
  });
}

export type SampledSoftmaxOptions = NegativeOptions & LogQOption;

export const DEFAULT_SAMPLED_SOFTMAX: Readonly<SampledSoftmaxOptions> = Object.freeze<SampledSoftmaxOptions>({
  numNegatives: 1024,
  sampler: { kind: 'popularity', alpha: DEFAULT_SAMPLE_ALPHA },
  logQ: true,
});

/**
 * `sampledSoftmax({ numNegatives, sampler, logQ })`: M negatives shared across the batch,
 * drawn from `sampler` (uniform, popularity^alpha, log-uniform, mixed, or a built sampler),
 * optional in-batch negatives, logQ correction, accidental hits removed.
 */
export function sampledSoftmax(options: SampledSoftmaxOptions = DEFAULT_SAMPLED_SOFTMAX, name = 'sampled-softmax'): ContextualLoss {
  return contextualLoss(name, options as Record<string, unknown>, (ctx): LossFunction => {
    const plan = planNegatives(options, ctx, name);
    return (input) =>
      tf.tidy(() => {
        const c = buildCandidates(input, plan);
        return sampledSoftmaxFromScores(c);
      });
  });
}
