/**
 * The every-position full-softmax loss the models that train at every position share
 * (`sequenceLoss`, the Trainer's `targets: 'every'`):
 *
 *   loss = mean_p [ log Σ_{j=1..N} exp(h_p · e_j)  −  h_p · e_{t_p} ]
 *
 * over the P real positions p of a batch, h_p the model's output at p and t_p its target
 * (`sequenceTargets`). The normaliser is softmaxNormaliser against the scoring table from row
 * 1 (padding left out), in row blocks; the target logit is a lookup and a row dot. Any other
 * loss runs on the P positions as its rows (`lossAtPositions`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainBatch } from '../data/types.js';
import { SeqrecError } from '../errors.js';
import { embeddingLookup, tableForLoss } from '../ops/embedding.js';
import { softmaxNormaliser } from '../ops/log-sum-exp.js';
import { lossInput } from '../losses/input.js';
import { softmaxCrossEntropy } from '../losses/softmax.js';
import type { LossFunction } from '../losses/types.js';
import type { Random } from '../util/random.js';

/** Where each real position of a batch sits and what it predicts (see `sequenceTargets`). */
export interface SequenceTargets {
  /** Flat indices b·L + i of the real positions, row-major. */
  positions: Int32Array;
  /** The item each of those positions predicts. */
  targets: Int32Array;
}

/**
 * Next-item targets at every real position of a right-padded training batch: slot i < n − 1
 * of a row with n real items predicts the item in slot i + 1, and the last real slot predicts
 * the row's `targets[b]` (the item after the window). A batch row is thus the sequence
 * s₁ … s_n, y trained at all n positions, as SASRec trains on the last L + 1 items.
 */
export function sequenceTargets(batch: TrainBatch): SequenceTargets {
  const { batchSize: b, maxLen: l, history, lengths } = batch;
  let total = 0;
  for (let r = 0; r < b; r++) total += lengths[r];
  const positions = new Int32Array(total);
  const targets = new Int32Array(total);
  let k = 0;
  for (let r = 0; r < b; r++) {
    const n = lengths[r];
    if (!(n >= 1 && n <= l)) throw new SeqrecError('shape_mismatch', `sequenceTargets: row ${r} has length ${n}, expected 1..${l}`);
    for (let i = 0; i < n; i++, k++) {
      positions[k] = r * l + i;
      targets[k] = i < n - 1 ? history[r * l + i + 1] : batch.targets[r];
      if (!(targets[k] >= 1))
        throw new SeqrecError('shape_mismatch', `sequenceTargets: row ${r} position ${i} predicts item ${targets[k]} (padding or invalid)`);
    }
  }
  return { positions, targets };
}

/** Largest [rows, N] logit block handed to softmaxNormaliser at once: 2^27 floats, 1.5 GB of arena for three. */
const MAX_LOGITS_PER_CALL = 2 ** 27;

/**
 * softmaxNormaliser over row blocks of at most `maxLogits` logits (its arena holds three
 * [rows, N] arrays); one call when they fit. Blocks after the first recompute their
 * exponentials in the backward pass (the arena was reused), so the cap is generous.
 */
export function normaliserInChunks(h: tf.Tensor2D, items: tf.Tensor2D, firstRow = 0, maxLogits = MAX_LOGITS_PER_CALL): tf.Tensor1D {
  const [rows, d] = h.shape;
  const step = Math.max(1, Math.floor(maxLogits / items.shape[0]));
  if (rows <= step) return softmaxNormaliser(h, items, firstRow);
  const parts: tf.Tensor1D[] = [];
  for (let start = 0; start < rows; start += step) {
    parts.push(softmaxNormaliser(tf.slice(h, [start, 0], [Math.min(step, rows - start), d]), items, firstRow));
  }
  return tf.concat(parts) as tf.Tensor1D;
}

/** The rows of `rows` [B·L, D] at the real positions (no gather when every slot is real). */
export function realRows(rows: tf.Tensor2D, positions: Int32Array): tf.Tensor2D {
  return positions.length === rows.shape[0] ? rows : (embeddingLookup(rows, tf.tensor1d(positions, 'int32')) as tf.Tensor2D);
}

/** Mean full-softmax cross-entropy of outputs `h` [P, D] against `table` [N, D] (row 0 padding) for `targets` [P]. */
export function fullSoftmaxAtPositions(h: tf.Tensor2D, table: tf.Tensor2D, targets: Int32Array): tf.Scalar {
  return tf.tidy(() => {
    const targetEmbeddings = embeddingLookup(table, tf.tensor1d(targets, 'int32'));
    const targetLogit = tf.sum(tf.mul(h, targetEmbeddings), 1);
    return tf.mean(tf.sub(normaliserInChunks(h, tableForLoss(table), 1), targetLogit)) as tf.Scalar;
  });
}

/**
 * `lossFn` at every position: the P real positions' outputs `h` [P, D] are the loss's rows, as
 * a one-target batch of P rows (so every loss, sampled ones included, trains at every
 * position). Full softmax (the default) goes through the chunked normaliser above.
 */
export function lossAtPositions(
  h: tf.Tensor2D,
  table: tf.Tensor2D,
  batch: { batchSize: number; maxLen: number },
  at: SequenceTargets,
  rng: Random,
  lossFn: LossFunction = softmaxCrossEntropy,
): tf.Scalar {
  if (lossFn === softmaxCrossEntropy) return fullSoftmaxAtPositions(h, table, at.targets);
  const sequences = { batchSize: batch.batchSize, maxLen: batch.maxLen, positions: at.positions };
  return tf.tidy(() => lossFn({ ...lossInput(table, at.targets, rng, () => h), sequences }));
}
