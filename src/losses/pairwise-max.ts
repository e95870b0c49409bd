/**
 * BPR-max and TOP1-max (Hidasi & Karatzoglou, "Recurrent Neural Networks with Top-k Gains for
 * Session-based Recommendations", CIKM 2018, section 3): the pairwise losses weighted by a
 * softmax over the NEGATIVE scores only, s_j = exp(r_j) / Σ_{k usable} exp(r_k), so that the
 * loss concentrates on the highest-scored negatives.
 *
 *   BPR-max:   loss_b = −log( Σ_j s_j σ(r_t − r_j) ) + bpreg · Σ_j s_j r_j²
 *   TOP1-max:  loss_b =        Σ_j s_j [ σ(r_j − r_t) + σ(r_j²) ]
 *   loss = mean_b loss_b     (a row without usable negatives contributes 0)
 *
 * The softmax runs over the negatives of the row (the positive's column masked, as the official
 * `softmax_neg` masks the diagonal; accidental hits masked too unless removeAccidentalHits is
 * false, which the official code does not do) and is applied once, to the raw
 * scores (no softmax over the logits before it: the "double softmax" of some ports). The
 * 1e-24 inside the log is the official code's guard against log 0.
 *
 * `elu` > 0 applies ELU(α = elu) to every score first, as the official PyTorch GRU4Rec's
 * `bpr_max_loss_with_elu` does (its class default is 0.5; the paper has no ELU; seqrec's
 * default is 0 = off).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';
import { buildCandidates, contextualLoss, planNegatives, type NegativeOptions } from './candidates.js';
import { maskedSoftmaxRows } from '../ops/masked-softmax.js';
import { DEFAULT_GRU4REC_NEGATIVES } from './pairwise.js';
import type { ScoredColumns } from './sampled-softmax.js';
import type { ContextualLoss, LossFunction } from './types.js';

export interface MaxLossSettings {
  /** BPR-max score regularisation weight (the official `bpreg`). Default 1 (the official default). */
  bpreg?: number;
  /** ELU α applied to the scores first; 0 = off. Default 0. */
  elu?: number;
}

/** ELU_α(x) = x for x ≥ 0, α(eˣ − 1) otherwise; written with min(x, 0) so no branch overflows. */
export function eluAlpha(x: tf.Tensor, alpha: number): tf.Tensor {
  return tf.add(tf.relu(x), tf.mul(alpha, tf.sub(tf.exp(tf.minimum(x, 0)), 1)));
}

/** 1 for rows with at least one usable negative. */
function rowsWithNegatives(b: number, m: number, valid: Float32Array | null | undefined): tf.Tensor1D {
  const h = new Float32Array(b).fill(m > 0 ? 1 : 0);
  if (valid) {
    for (let r = 0; r < b; r++) {
      let any = 0;
      for (let k = 0; k < m && !any; k++) if (valid[r * m + k] > 0) any = 1;
      h[r] = any;
    }
  }
  return tf.tensor1d(h);
}

function transformed(s: ScoredColumns, elu: number): { positive: tf.Tensor1D; negatives: tf.Tensor2D } {
  if (!(elu > 0)) return { positive: s.positive, negatives: s.negatives };
  return { positive: eluAlpha(s.positive, elu) as tf.Tensor1D, negatives: eluAlpha(s.negatives, elu) as tf.Tensor2D };
}

/** BPR-max on given scores (pure). */
export function bprMaxFromScores(s: ScoredColumns, settings: MaxLossSettings = {}): tf.Scalar {
  const bpreg = settings.bpreg ?? 1;
  return tf.tidy(() => {
    const [b, m] = s.negatives.shape;
    const { positive, negatives } = transformed(s, settings.elu ?? 0);
    const weights = maskedSoftmaxRows(negatives, s.valid ?? null); // softmax over negatives only
    const pairwise = tf.sum(tf.mul(weights, tf.sigmoid(tf.sub(tf.expandDims(positive, 1), negatives))), 1);
    let perRow = tf.neg(tf.log(tf.add(pairwise, 1e-24)));
    if (bpreg !== 0) perRow = tf.add(perRow, tf.mul(bpreg, tf.sum(tf.mul(weights, tf.square(negatives)), 1)));
    return tf.div(tf.sum(tf.mul(perRow, rowsWithNegatives(b, m, s.valid))), b) as tf.Scalar;
  });
}

/** TOP1-max on given scores (pure). */
export function top1MaxFromScores(s: ScoredColumns, settings: Pick<MaxLossSettings, 'elu'> = {}): tf.Scalar {
  return tf.tidy(() => {
    const [b] = s.negatives.shape;
    const { positive, negatives } = transformed(s, settings.elu ?? 0);
    const weights = maskedSoftmaxRows(negatives, s.valid ?? null);
    const terms = tf.add(tf.sigmoid(tf.sub(negatives, tf.expandDims(positive, 1))), tf.sigmoid(tf.square(negatives)));
    // Rows without negatives have all-zero weights, hence 0.
    return tf.div(tf.sum(tf.mul(weights, terms)), b) as tf.Scalar;
  });
}

export type MaxLossOptions = NegativeOptions & MaxLossSettings;

export const DEFAULT_BPR_MAX: Readonly<MaxLossOptions> = Object.freeze({ ...DEFAULT_GRU4REC_NEGATIVES, bpreg: 1, elu: 0 });
export const DEFAULT_TOP1_MAX: Readonly<MaxLossOptions> = Object.freeze({ ...DEFAULT_GRU4REC_NEGATIVES, elu: 0 });

function checkSettings(name: string, o: MaxLossSettings): void {
  if (o.bpreg !== undefined && !(o.bpreg >= 0 && Number.isFinite(o.bpreg)))
    throw new SeqrecError('invalid_config', `${name}: bpreg must be a finite number >= 0, got ${o.bpreg}`, { field: 'bpreg' });
  if (o.elu !== undefined && !(o.elu >= 0 && Number.isFinite(o.elu)))
    throw new SeqrecError('invalid_config', `${name}: elu must be a finite number >= 0, got ${o.elu}`, { field: 'elu' });
}

/** `bprMax({ bpreg, elu, inBatch, numNegatives, sampler })`. */
export function bprMax(options: MaxLossOptions = DEFAULT_BPR_MAX): ContextualLoss {
  checkSettings('bpr-max', options);
  return contextualLoss('bpr-max', options as Record<string, unknown>, (ctx): LossFunction => {
    const plan = planNegatives(options, ctx, 'bpr-max');
    const settings = { bpreg: options.bpreg ?? 1, elu: options.elu ?? 0 };
    return (input) => tf.tidy(() => bprMaxFromScores(buildCandidates(input, plan), settings));
  });
}

/** `top1Max({ elu, inBatch, numNegatives, sampler })`. */
export function top1Max(options: MaxLossOptions = DEFAULT_TOP1_MAX): ContextualLoss {
  checkSettings('top1-max', options);
  return contextualLoss('top1-max', options as Record<string, unknown>, (ctx): LossFunction => {
    const plan = planNegatives(options, ctx, 'top1-max');
    const settings = { elu: options.elu ?? 0 };
    return (input) => tf.tidy(() => top1MaxFromScores(buildCandidates(input, plan), settings));
  });
}
