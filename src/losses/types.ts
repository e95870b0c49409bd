import type * as tf from '@tensorflow/tfjs-core';
import type { Random } from '../util/random.js';

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
  /**
   * Set when the rows are the real positions of a [batchSize, maxLen] batch (training at every
   * position): row r is slot `positions[r]` (b·maxLen + i, ascending). Losses that draw
   * negatives per sequence use it; the others ignore it.
   */
  sequences?: { batchSize: number; maxLen: number; positions: Int32Array };
}

/** A training loss: a pure function from scores' ingredients to a scalar (mean over the batch). */
export type LossFunction = (input: LossInput) => tf.Scalar;

/** What a loss may need from the training data, given once when it is bound (see `resolveLoss`). */
export interface LossContext {
  /** Item rows including padding (`dataset.itemCount`). */
  itemCount: number;
  /** Training interaction counts by item id, index 0 = padding (`dataset.itemPopularity()`). */
  itemPopularity?: ArrayLike<number>;
}

/**
 * A loss whose negatives depend on the data (popularity samplers, in-batch logQ). It is a
 * `LossFunction` (called unbound it builds its samplers from the item table's size alone, which
 * is enough for uniform and log-uniform sampling) and `withContext(ctx)` returns the loss bound
 * to the data's item counts. `resolveLoss(loss, ctx)` and the trainers bind it for you.
 */
export type ContextualLoss = LossFunction & {
  /** Registry-style name, e.g. 'bpr-max'. */
  readonly lossName: string;
  /** The resolved settings, for reports. */
  readonly settings: Readonly<Record<string, unknown>>;
  withContext(ctx: LossContext): LossFunction;
};
