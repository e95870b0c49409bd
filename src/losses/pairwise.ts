/**
 * BPR and TOP1, the pairwise ranking losses of GRU4Rec (Hidasi, Karatzoglou, Baltrunas & Tikk,
 * "Session-based Recommendations with Recurrent Neural Networks", ICLR 2016, section 3.1.2),
 * averaged over each row's N_b usable negatives j (positive t):
 *
 *   BPR:   loss_b = −1/N_b · Σ_j log σ(r_t − r_j)
 *   TOP1:  loss_b =  1/N_b · Σ_j [ σ(r_j − r_t) + σ(r_j²) ]      (σ(r_j²): score regulariser)
 *   loss   = mean_b loss_b        (a row without usable negatives contributes 0)
 *
 * The official Theano GRU4Rec's `bpr` sums −log σ(r_t − r_j) over every column of the score
 * matrix, the positive's own included (so its scale grows with the number of columns); its
 * `top1` averages over every column, the own included, and subtracts σ(r_t²) / (M + n_sample)
 * for the own column's regulariser (the PyTorch port has neither loss). seqrec averages over
 * the usable negatives only, which is the paper's formula (the own column only adds a
 * constant, log 2 for BPR, to each row). The 2018 paper and the official
 * README advise against both (vanishing gradients with many negatives): prefer BPR-max or
 * cross-entropy.
 */
import * as tf from '@tensorflow/tfjs-core';
import { buildCandidates, contextualLoss, planNegatives, type NegativeOptions } from './candidates.js';
import type { ScoredColumns } from './sampled-softmax.js';
import type { ContextualLoss, LossFunction } from './types.js';

/** [B, M] weights v_bj / max(N_b, 1) and the row count B, as a constant tensor. */
function averagingWeights(b: number, m: number, valid: Float32Array | null | undefined): tf.Tensor2D {
  const w = new Float32Array(b * m);
  for (let r = 0; r < b; r++) {
    let n = 0;
    for (let k = 0; k < m; k++) if (!valid || valid[r * m + k] > 0) n++;
    if (n === 0) continue;
    for (let k = 0; k < m; k++) if (!valid || valid[r * m + k] > 0) w[r * m + k] = 1 / n;
  }
  return tf.tensor2d(w, [b, m]);
}

/** BPR on given scores (pure). */
export function bprFromScores(s: ScoredColumns): tf.Scalar {
  return tf.tidy(() => {
    const [b, m] = s.negatives.shape;
    const diff = tf.sub(tf.expandDims(s.positive, 1), s.negatives);
    // −log σ(x) = softplus(−x) (tf.logSigmoid's custom gradient reads a tensor a tidy may have freed).
    const terms = tf.mul(tf.softplus(tf.neg(diff)), averagingWeights(b, m, s.valid));
    return tf.div(tf.sum(terms), b) as tf.Scalar;
  });
}

/** TOP1 on given scores (pure). */
export function top1FromScores(s: ScoredColumns): tf.Scalar {
  return tf.tidy(() => {
    const [b, m] = s.negatives.shape;
    const rank = tf.sigmoid(tf.sub(s.negatives, tf.expandDims(s.positive, 1)));
    const reg = tf.sigmoid(tf.square(s.negatives));
    const terms = tf.mul(tf.add(rank, reg), averagingWeights(b, m, s.valid));
    return tf.div(tf.sum(terms), b) as tf.Scalar;
  });
}

export type PairwiseOptions = NegativeOptions;

/** The official PyTorch GRU4Rec's default negatives: the other rows' targets plus 2,048 shared popularity^0.5 samples (the Theano class default is popularity^0.75). */
export const DEFAULT_GRU4REC_NEGATIVES: Readonly<NegativeOptions> = Object.freeze<NegativeOptions>({
  inBatch: true,
  numNegatives: 2048,
  sampler: { kind: 'popularity', alpha: 0.5 },
});

function pairwiseLoss(name: string, options: PairwiseOptions, fromScores: (s: ScoredColumns) => tf.Scalar): ContextualLoss {
  return contextualLoss(name, options as Record<string, unknown>, (ctx): LossFunction => {
    const plan = planNegatives(options, ctx, name);
    return (input) => tf.tidy(() => fromScores(buildCandidates(input, plan)));
  });
}

/** `bpr({ inBatch, numNegatives, sampler })`. */
export function bpr(options: PairwiseOptions = DEFAULT_GRU4REC_NEGATIVES): ContextualLoss {
  return pairwiseLoss('bpr', options, bprFromScores);
}

/** `top1({ inBatch, numNegatives, sampler })`. */
export function top1(options: PairwiseOptions = DEFAULT_GRU4REC_NEGATIVES): ContextualLoss {
  return pairwiseLoss('top1', options, top1FromScores);
}
