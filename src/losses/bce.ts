/**
 * Binary cross-entropy with sampled negatives (the original SASRec's loss, Kang & McAuley 2018)
 * and gSASRec's generalised form gBCE (Petrov & Macdonald, RecSys 2023).
 *
 * For row r with positive score s⁺ = u_r · e_t and usable negative scores s_j (j ∈ S_r):
 *
 *   loss_r = ( β · softplus(−s⁺) + Σ_{j ∈ S_r} softplus(s_j) ) / (1 + |S_r|)
 *   loss   = mean_r loss_r
 *
 * i.e. −1/(k+1) · (log σ(s⁺)^β + Σ_j log(1 − σ(s_j))), gSASRec's definition (the original
 * SASRec code sums the two terms instead of averaging: a constant factor, immaterial to Adam
 * but for its ε). β = 1 is plain BCE. gBCE sets
 *
 *   β = α · (t · (1 − 1/α) + 1/α),   α = k / (N − 1)
 *
 * with k negatives per positive out of N items and calibration t ∈ [0, 1]: t = 0 gives β = 1
 * (BCE), t = 1 gives β = α (gSASRec, eq. 8 and its code's `alpha`/`beta`).
 *
 * Negatives are drawn uniformly over the real items, with replacement; a negative equal to the
 * row's target is not used (an accidental hit). Two layouts, both O(R · k · D) whatever N is:
 * - per row (`shared: false`, BCE's default): each row draws its own k, as the original SASRec
 *   (which draws from the items the user has not interacted with; seqrec only excludes the
 *   target: a loss sees no history);
 * - shared (`shared: true`, gBCE's default): k negatives drawn once per batch and scored by every
 *   row with one matmul, so 256 negatives at each of 25,600 SASRec positions stay cheap. Each
 *   row's negatives are still a uniform sample, so gBCE's α is unchanged.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';
import { embeddingLookup } from '../ops/embedding.js';
import { contextualLoss } from './candidates.js';
import type { ContextualLoss, LossFunction, LossInput } from './types.js';

export interface BinaryLossOptions {
  /** Negatives per positive, k >= 1. Default 1 (BCE), 256 (gBCE). */
  numNegatives?: number;
  /** One set of k negatives for the whole batch (true) or k per row (false). Default false (BCE), true (gBCE). */
  shared?: boolean;
}

export interface GBCEOptions extends BinaryLossOptions {
  /** Calibration t in [0, 1]. Default 0.75 (gSASRec's recommended value). */
  t?: number;
}

export const DEFAULT_BCE: Readonly<Required<BinaryLossOptions>> = Object.freeze({ numNegatives: 1, shared: false });
export const DEFAULT_GBCE: Readonly<Required<GBCEOptions>> = Object.freeze({ numNegatives: 256, shared: true, t: 0.75 });

/** gBCE's β for k negatives out of `numItems` real items and calibration t. */
export function gbceBeta(numNegatives: number, numItems: number, t: number): number {
  const alpha = numNegatives / (numItems - 1);
  return alpha * (t * (1 - 1 / alpha) + 1 / alpha);
}

/**
 * The formula above on given scores: positive [R], negatives [R, k], `valid` [R·k] (1 =
 * usable; null = all). Pure; call inside a tidy or dispose the result.
 */
export function binaryLossFromScores(positive: tf.Tensor1D, negatives: tf.Tensor2D, valid: Float32Array | null, beta = 1): tf.Scalar {
  return tf.tidy(() => {
    const [rows, k] = negatives.shape;
    let negTerm = tf.softplus(negatives);
    const counts = new Float32Array(rows).fill(1 + k);
    if (valid) {
      negTerm = tf.mul(negTerm, tf.tensor2d(valid, [rows, k]));
      for (let r = 0; r < rows; r++) {
        let used = 0;
        for (let j = 0; j < k; j++) used += valid[r * k + j] > 0 ? 1 : 0;
        counts[r] = 1 + used;
      }
    }
    const perRow = tf.div(tf.add(tf.mul(tf.softplus(tf.neg(positive)), beta), tf.sum(negTerm, 1)), tf.tensor1d(counts));
    return tf.mean(perRow) as tf.Scalar;
  });
}

function checkOptions(name: string, numNegatives: number, t?: number): void {
  if (!Number.isInteger(numNegatives) || numNegatives < 1) {
    throw new SeqrecError('invalid_config', `${name}: numNegatives must be a whole number >= 1, got ${numNegatives}`, { field: 'numNegatives' });
  }
  if (t !== undefined && !(t >= 0 && t <= 1)) throw new SeqrecError('invalid_config', `${name}: t must be in [0, 1], got ${t}`, { field: 't' });
}

/** Positive and negative scores of `input` with k uniform negatives (per row or shared). */
function scoreNegatives(input: LossInput, k: number, shared: boolean): { positive: tf.Tensor1D; negatives: tf.Tensor2D; valid: Float32Array | null } {
  const { user, items, targetIds, targetEmbeddings, rng } = input;
  const rows = user.shape[0];
  const real = items.shape[0] - 1;
  const positive = tf.sum(tf.mul(user, targetEmbeddings), 1) as tf.Tensor1D;
  const ids = Int32Array.from({ length: shared ? k : rows * k }, () => 1 + rng.int(real));
  const valid = new Float32Array(rows * k).fill(1);
  let hits = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      if (ids[shared ? j : r * k + j] === targetIds[r]) {
        valid[r * k + j] = 0;
        hits++;
      }
    }
  }
  const embeddings = embeddingLookup(items, tf.tensor1d(ids, 'int32')) as tf.Tensor2D;
  const negatives = shared
    ? (tf.matMul(user, embeddings, false, true) as tf.Tensor2D)
    : (tf.sum(tf.mul(tf.expandDims(user, 1), tf.reshape(embeddings, [rows, k, -1])), 2) as tf.Tensor2D);
  return { positive, negatives, valid: hits > 0 ? valid : null };
}

/** `bce({ numNegatives, shared })`: the original SASRec's binary cross-entropy (see the module comment). */
export function bce(options: BinaryLossOptions = {}): ContextualLoss {
  const o = { ...DEFAULT_BCE, ...defined(options) };
  checkOptions('bce', o.numNegatives);
  return binaryLoss('bce', o, () => 1);
}

/** `gbce({ numNegatives, t, shared })`: gSASRec's gBCE (see the module comment). */
export function gbce(options: GBCEOptions = {}): ContextualLoss {
  const o = { ...DEFAULT_GBCE, ...defined(options) };
  checkOptions('gbce', o.numNegatives, o.t);
  return binaryLoss('gbce', o, (numItems) => gbceBeta(o.numNegatives, numItems, o.t));
}

/** `options` without its undefined entries (which would override the defaults when spread). */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A ContextualLoss (like seqrec's other sampled losses: batches are not split across workers). */
function binaryLoss(name: string, o: Required<BinaryLossOptions>, betaFor: (numItems: number) => number): ContextualLoss {
  return contextualLoss(name, o, (ctx): LossFunction => {
    const beta = betaFor(ctx.itemCount - 1);
    return (input) =>
      tf.tidy(() => {
        const s = scoreNegatives(input, o.numNegatives, o.shared);
        return binaryLossFromScores(s.positive, s.negatives, s.valid, beta);
      });
  });
}
