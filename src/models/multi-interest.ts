/**
 * What MIND, ComiRec-DR and ComiRec-SA share: K interest vectors per user, label-aware
 * attention for the training loss, the optional interest-diversity regulariser, and the
 * handling of interests a user does not use (MIND's dynamic interest count).
 *
 * Unused interests. A model may decide per user that only the first K'_u of its K interests
 * are in use. `userEmbeddings` still returns [B, K, D] (the shape every caller expects), but
 * the slots k >= K'_u hold a COPY OF INTEREST 0. Retrieval merges the K per-interest lists by
 * score with duplicates removed (ComiRec's evaluate_full, `mergeInterestCandidates`), so a
 * copy contributes exactly the candidates interest 0 already contributed, with the same
 * scores: the merged list equals the merge over the K'_u used interests alone, with every
 * retriever that merges this way and no change to it. Callers who want the used interests
 * only can slice with `activeInterestCounts`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceBatch, TrainBatch } from '../data/types.js';
import { z } from 'zod';
import { softmaxCrossEntropy } from '../losses/softmax.js';
import type { LossFunction } from '../losses/types.js';
import { BaseRecaller, type BatchTensors, type UserEmbeddingOptions } from './base.js';
import { DEFAULT_BASE_CONFIG, integerIn, ModelBaseConfigSchema, numberWhere, oneOf } from './config.js';
import { interestSimilarity, labelAwareAttention, type ReadoutMode } from './layers/attention.js';
import { lossInput } from '../losses/input.js';

/** The most interests a multi-interest model may have. */
// 256 is far above the papers' 4-8; a typo (1e6) would otherwise run the wasm heap out of bounds.
export const MAX_INTERESTS = 256;

/** Defaults the multi-interest models share (on top of the base ones). */
export const DEFAULT_MULTI_INTEREST_CONFIG = Object.freeze({
  ...DEFAULT_BASE_CONFIG,
  numInterests: 4,
  // Hard (argmax): ComiRec's models, and MIND's paper (see docs/models/mind.md).
  readout: 'hard' as ReadoutMode,
  readoutPower: 2,
  diversityWeight: 0,
});

/** The base fields plus those of every multi-interest model (compose with `.extend`). */
export const MultiInterestConfigSchema = ModelBaseConfigSchema.extend({
  /** K, interests per user. Default 4. */
  numInterests: integerIn(1, MAX_INTERESTS).default(DEFAULT_MULTI_INTEREST_CONFIG.numInterests),
  /** Label-aware attention in training: 'hard' (argmax, ComiRec) or 'soft' (MIND's softmax((V e)^p)). */
  readout: oneOf(['soft', 'hard']).default(DEFAULT_MULTI_INTEREST_CONFIG.readout),
  /** p of the soft readout, > 0. Default 2 (MIND's paper). */
  readoutPower: numberWhere('a finite number > 0', (v) => v > 0).default(DEFAULT_MULTI_INTEREST_CONFIG.readoutPower),
  /**
   * Weight w of the interest-diversity regulariser: w · (mean pairwise cosine between a
   * user's interests) is added to the loss. Default 0 (off; none of the papers uses it).
   */
  diversityWeight: numberWhere('a finite number >= 0', (v) => v >= 0).default(DEFAULT_MULTI_INTEREST_CONFIG.diversityWeight),
});

export type MultiInterestConfig = z.output<typeof MultiInterestConfigSchema>;

/** Interests of a batch and, when the model uses fewer than K for some users, which ones. */
export interface InterestOutput {
  /** [B, K, D]. Unused slots may hold anything; they are replaced or masked by the caller. */
  interests: tf.Tensor3D;
  /** [B, K] 1 = in use, or null when every interest is in use. */
  active: tf.Tensor2D | null;
}

export abstract class MultiInterestRecaller<Config extends MultiInterestConfig = MultiInterestConfig> extends BaseRecaller<Config> {
  abstract readonly config: Readonly<Config>;

  /** The model's interests for a batch (training: stochastic parts from `trainRng`). */
  protected abstract extractInterests(batch: SequenceBatch, tensors: BatchTensors, training: boolean): InterestOutput;

  /**
   * [B, K, D] user embeddings. Interests a user does not use (see the module comment) are
   * copies of interest 0.
   */
  userEmbeddings(batch: SequenceBatch, options: UserEmbeddingOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const { interests, active } = this.extractInterests(batch, this.toTensors(batch), options.training ?? false);
      return active ? fillUnused(interests, active) : interests;
    });
  }

  /** K'_u, the number of interests in use for each row (K for every row unless the model varies it). */
  activeInterestCounts(batch: SequenceBatch): Int32Array {
    return new Int32Array(batch.batchSize).fill(this.numInterests);
  }

  /**
   * Training loss: label-aware attention over the interests in use picks each row's user
   * vector, the loss function scores it (the LossFunction contract is unchanged), and
   * `diversityWeight` × mean pairwise cosine of the interests is added.
   */
  override loss(batch: TrainBatch, lossFn: LossFunction = softmaxCrossEntropy): tf.Scalar {
    return tf.tidy(() => {
      // The interests are extracted after the targets are looked up, as before (tape order).
      let extracted: InterestOutput | undefined;
      const input = lossInput(this.itemTable, batch.targets, this.trainRng, (targetEmbeddings) => {
        extracted = this.extractInterests(batch, this.toTensors(batch), true);
        return labelAwareAttention(extracted.interests, targetEmbeddings, {
          mode: this.config.readout,
          power: this.config.readoutPower,
          active: extracted.active,
        });
      });
      const { interests, active } = extracted!;
      let loss = lossFn(input);
      if (this.config.diversityWeight > 0) {
        loss = tf.add(loss, tf.mul(interestSimilarity(interests, active), this.config.diversityWeight));
      }
      return loss;
    });
  }

  /** Label-aware attention with every interest in use (for callers of the base-class path). */
  protected override trainingUserVector(userEmb: tf.Tensor3D, targetEmb: tf.Tensor2D): tf.Tensor2D {
    return labelAwareAttention(userEmb, targetEmb, { mode: this.config.readout, power: this.config.readoutPower });
  }

  /** Masks a [B, L, D] embedding of the history with the padding mask (ComiRec multiplies too). */
  protected embedHistory(tensors: BatchTensors): tf.Tensor3D {
    return tf.mul(this.embed(tensors.history), tf.expandDims(tensors.mask, 2)) as tf.Tensor3D;
  }
}

/** Slots with active = 0 take a copy of interest 0. */
export function fillUnused(interests: tf.Tensor3D, active: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const a = tf.expandDims(active, 2); // [B, K, 1]
    const first = tf.slice(interests, [0, 0, 0], [-1, 1, -1]); // [B, 1, D]
    return tf.add(tf.mul(interests, a), tf.mul(first, tf.sub(1, a))) as tf.Tensor3D;
  });
}
