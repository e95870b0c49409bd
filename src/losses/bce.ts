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
 * row's target is not used (an accidental hit). Who shares a draw of k (`sharing`):
 * - 'row' (BCE's default): each row its own k, as the original SASRec (which draws from the
 *   items the user has not interacted with; seqrec only excludes the target: a loss sees no
 *   history) and gSASRec's code. O(R · k · D) gathered floats, or, when the table takes a dense
 *   gradient and has fewer rows than k · D (ML-1M: 3,417 < 256 · 64), one [R, N] score
 *   matrix from which each row reads its k columns: the same scores with no [R, k, D] gather
 *   (the peer picks between the two the same way).
 * - 'sequence' (gBCE's default): at every position, each training sequence draws k for all its
 *   positions, scored with one batched product over the [B, L] slots: 256 negatives at each of
 *   25,600 SASRec positions without a [25,600 x 256 x D] gather. gSASRec's code draws per
 *   position; per sequence each row's negatives are still a uniform sample, so α is unchanged.
 *   With one target per row it is 'row'.
 * - 'batch': k for the whole batch, one matmul (far fewer distinct negatives a step: slower
 *   learning at every position, measured on ML-1M).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';
import { gatherColumns } from '../ops/column-gather.js';
import { embeddingLookup, isRowCaptured } from '../ops/embedding.js';
import { contextualLoss } from './candidates.js';
import { scoreSequenceNegatives, sequenceOfRow } from './sequence-negatives.js';
import type { ContextualLoss, LossFunction, LossInput } from './types.js';

/** Who shares a set of k negatives: each row its own, each training sequence (all its positions), or the whole batch. */
export type NegativeSharing = 'row' | 'sequence' | 'batch';

export interface BinaryLossOptions {
  /** Negatives per positive, k >= 1. Default 1 (BCE), 256 (gBCE). */
  numNegatives?: number;
  /** Default 'row' (BCE), 'sequence' (gBCE; without sequences, i.e. one target per row, the same as 'row'). */
  sharing?: NegativeSharing;
}

export interface GBCEOptions extends BinaryLossOptions {
  /** Calibration t in [0, 1]. Default 0.75 (gSASRec's recommended value). */
  t?: number;
}

export const DEFAULT_BCE: Readonly<Required<BinaryLossOptions>> = Object.freeze({ numNegatives: 1, sharing: 'row' as NegativeSharing });
export const DEFAULT_GBCE: Readonly<Required<GBCEOptions>> = Object.freeze({ numNegatives: 256, sharing: 'sequence' as NegativeSharing, t: 0.75 });

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

function checkOptions(name: string, numNegatives: number, sharing: NegativeSharing, t?: number): void {
  if (!['row', 'sequence', 'batch'].includes(sharing)) {
    throw new SeqrecError('invalid_config', `${name}: sharing must be 'row', 'sequence' or 'batch', got ${String(sharing)}`, { field: 'sharing' });
  }
  if (!Number.isInteger(numNegatives) || numNegatives < 1) {
    throw new SeqrecError('invalid_config', `${name}: numNegatives must be a whole number >= 1, got ${numNegatives}`, { field: 'numNegatives' });
  }
  if (t !== undefined && !(t >= 0 && t <= 1)) throw new SeqrecError('invalid_config', `${name}: t must be in [0, 1], got ${t}`, { field: 't' });
}

/** k uniform draws over the real items for each of `sets` sets (the one stream every path reads). */
function drawNegatives(input: LossInput, sets: number, k: number): Int32Array {
  const ids = new Int32Array(sets * k);
  input.rng.fillInts(ids, input.items.shape[0] - 1, 1);
  return ids;
}

/** Positive and negative scores of `input` with k uniform negatives per row, per sequence or per batch. */
function scoreNegatives(input: LossInput, k: number, sharing: NegativeSharing): { positive: tf.Tensor1D; negatives: tf.Tensor2D; valid: Float32Array | null } {
  const { user, items, targetIds, targetEmbeddings, sequences } = input;
  const rows = user.shape[0];
  const dim = user.shape[1];
  const positive = tf.sum(tf.mul(user, targetEmbeddings), 1) as tf.Tensor1D;
  const bySequence = sharing === 'sequence' && sequences !== undefined;
  const perRow = sharing === 'row' || (sharing === 'sequence' && !bySequence);
  // Row r's negatives are ids[set(r) * k ... + k).
  const setOf = (r: number) => (perRow ? r : bySequence ? sequenceOfRow(sequences!, r) : 0);
  const sets = perRow ? rows : bySequence ? sequences!.batchSize : 1;
  const ids = drawNegatives(input, sets, k);
  const valid = new Float32Array(rows * k).fill(1);
  let hits = 0;
  for (let r = 0; r < rows; r++) {
    const base = setOf(r) * k;
    for (let j = 0; j < k; j++) {
      if (ids[base + j] === targetIds[r]) {
        valid[r * k + j] = 0;
        hits++;
      }
    }
  }
  let negatives: tf.Tensor2D;
  if (perRow && !isRowCaptured(items) && items.shape[0] <= k * dim) {
    // Fewer floats in the whole [R, N] score matrix than in [R, k, D] gathered rows (module comment).
    negatives = gatherColumns(tf.matMul(user, items, false, true) as tf.Tensor2D, ids);
    return { positive, negatives, valid: hits > 0 ? valid : null };
  }
  const embeddings = embeddingLookup(items, tf.tensor1d(ids, 'int32')) as tf.Tensor2D;
  if (perRow) {
    negatives = tf.sum(tf.mul(tf.expandDims(user, 1), tf.reshape(embeddings, [rows, k, dim])), 2) as tf.Tensor2D;
  } else if (bySequence) {
    negatives = scoreSequenceNegatives(user, embeddings, sequences!, k);
  } else {
    negatives = tf.matMul(user, embeddings, false, true) as tf.Tensor2D;
  }
  return { positive, negatives, valid: hits > 0 ? valid : null };
}

/** `bce({ numNegatives, sharing })`: the original SASRec's binary cross-entropy (see the module comment). */
export function bce(options: BinaryLossOptions = {}): ContextualLoss {
  const o = { ...DEFAULT_BCE, ...defined(options) };
  checkOptions('bce', o.numNegatives, o.sharing);
  return binaryLoss('bce', o, () => 1);
}

/** `gbce({ numNegatives, t, sharing })`: gSASRec's gBCE (see the module comment). */
export function gbce(options: GBCEOptions = {}): ContextualLoss {
  const o = { ...DEFAULT_GBCE, ...defined(options) };
  checkOptions('gbce', o.numNegatives, o.sharing, o.t);
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
        const s = scoreNegatives(input, o.numNegatives, o.sharing);
        return binaryLossFromScores(s.positive, s.negatives, s.valid, beta);
      });
  });
}
