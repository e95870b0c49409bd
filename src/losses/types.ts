import type * as tf from '@tensorflow/tfjs-core';
import type { Random } from '../data/random.js';

/** What a loss sees for one training batch. */
export interface LossInput {
  /** [B, D] the user vector each row is trained with (after label-aware attention for multi-interest models). */
  user: tf.Tensor2D;
  /** [itemCount, D] the whole item table, row 0 = padding (must never be scored). */
  items: tf.Tensor2D;
  /** [B] int32 target item indices (>= 1). */
  targets: tf.Tensor1D;
  /** [B] the same targets as plain numbers, for samplers. */
  targetIds: Int32Array;
  /** [B, D] the targets' embeddings, looked up with a sparse gradient. */
  targetEmbeddings: tf.Tensor2D;
  /** Seeded randomness for samplers. */
  rng: Random;
}

/** A training loss: a pure function from scores' ingredients to a scalar (mean over the batch). */
export type LossFunction = (input: LossInput) => tf.Scalar;
