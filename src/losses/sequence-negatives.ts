/**
 * Scores of negatives drawn per training sequence, at every position: row r (a real position of
 * a [B, L] batch) against the k negatives of its sequence. The rows go back into their [B, L]
 * slots (padded slots read a zero row) for one batched product [B, L, D] x [B, k, D]ᵀ, then the
 * real slots are read out: O(B·L·k·D) with no [rows, k, D] gather. Shared by gBCE/BCE and the
 * sampled softmax.
 */
import * as tf from '@tensorflow/tfjs-core';
import { embeddingLookup } from '../ops/embedding.js';
import type { LossInput } from './types.js';

export type SequenceLayout = NonNullable<LossInput['sequences']>;

/** [rows, k] scores of `user` [rows, D] against `negatives` [B·k, D] (sequence b's block at b·k). */
export function scoreSequenceNegatives(user: tf.Tensor2D, negatives: tf.Tensor2D, layout: SequenceLayout, k: number): tf.Tensor2D {
  const { batchSize: b, maxLen: l, positions } = layout;
  const dim = user.shape[1];
  const slotRow = new Int32Array(b * l);
  positions.forEach((slot, r) => (slotRow[slot] = r + 1));
  const padded = embeddingLookup(tf.concat([tf.zeros([1, dim]), user]) as tf.Tensor2D, tf.tensor2d(slotRow, [b, l], 'int32')) as tf.Tensor3D;
  const scores = tf.matMul(padded, tf.reshape(negatives, [b, k, dim]), false, true);
  return embeddingLookup(tf.reshape(scores, [b * l, k]) as tf.Tensor2D, tf.tensor1d(positions, 'int32')) as tf.Tensor2D;
}

/** The sequence (set of negatives) of each row. */
export function sequenceOfRow(layout: SequenceLayout, row: number): number {
  return Math.floor(layout.positions[row] / layout.maxLen);
}
