/**
 * The one place a `LossInput` is assembled, for windowed models (src/models/base.ts,
 * multi-interest.ts) and session-parallel steps (src/train/session-step.ts) alike: targets as a
 * tensor and as numbers, their embeddings looked up with a sparse gradient, the table as the
 * loss may receive it (guarded while row gradients are captured), and the model's training rng.
 */
import * as tf from '@tensorflow/tfjs-core';
import { embeddingLookup, tableForLoss } from '../ops/embedding.js';
import type { Random } from '../util/random.js';
import type { LossInput } from './types.js';

/**
 * The loss input for `targetIds` against `table`. `userOf` gets the targets' embeddings first,
 * because multi-interest models pick each row's user vector by attention over them.
 */
export function lossInput(table: tf.Tensor2D, targetIds: Int32Array, rng: Random, userOf: (targetEmbeddings: tf.Tensor2D) => tf.Tensor2D): LossInput {
  const targets = tf.tensor1d(targetIds, 'int32');
  const targetEmbeddings = embeddingLookup(table, targets) as tf.Tensor2D;
  const user = userOf(targetEmbeddings);
  return { user, items: tableForLoss(table), targets, targetIds, targetEmbeddings, rng };
}
