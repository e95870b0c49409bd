/**
 * YouTube-DNN-style mean pooling (Covington et al., RecSys 2016), the single-interest
 * baseline of the ComiRec paper ("DNN" in ComiRec's code):
 *
 *   h = Σ_i m_i e_i / (Σ_i m_i + 1e-9)        masked mean of the history's item embeddings
 *   u = h W + w                                 one dense layer D -> D, no activation
 *
 * As in ComiRec's Model_DNN: the epsilon in the denominator, a glorot-uniform kernel and a
 * zero-initialised bias (tf.layers.dense defaults). The paper's deeper ReLU tower and its
 * extra user features are not part of this baseline.
 *
 * The mean ignores order and padding: the user vector does not depend on window length,
 * batch-mates or the position of items in the window.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceBatch } from '../data/types.js';
import type { z } from 'zod';
import { BaseRecaller, type UserEmbeddingOptions } from './base.js';
import { DEFAULT_BASE_CONFIG, ModelBaseConfigSchema, resolveModelConfig } from './config.js';
import { glorotUniform } from './layers/init.js';

export const DEFAULT_YOUTUBE_DNN_CONFIG = DEFAULT_BASE_CONFIG;

/** YouTubeDNN has the base fields only. */
export const YouTubeDNNConfigSchema = ModelBaseConfigSchema;

export type YouTubeDNNConfig = z.output<typeof YouTubeDNNConfigSchema>;
export type YouTubeDNNOptions = z.input<typeof YouTubeDNNConfigSchema>;

export class YouTubeDNN extends BaseRecaller<YouTubeDNNConfig> {
  readonly name = 'youtubednn';
  readonly numInterests = 1;
  readonly config: Readonly<YouTubeDNNConfig>;
  private readonly kernel: tf.Variable;
  private readonly bias: tf.Variable;

  constructor(options: YouTubeDNNOptions) {
    const config = resolveModelConfig(YouTubeDNNConfigSchema, options, 'YouTubeDNN');
    super(config);
    this.config = Object.freeze(config);
    const d = config.embeddingDim;
    this.kernel = this.addWeight('dense/kernel', glorotUniform(this.initRng, [d, d]), [d, d]);
    this.bias = this.addWeight('dense/bias', new Float32Array(d), [d]);
  }

  getConfig(): YouTubeDNNConfig {
    return { ...this.config };
  }

  userEmbeddings(batch: SequenceBatch, _options: UserEmbeddingOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const { history, mask } = this.toTensors(batch);
      const e = tf.mul(this.embed(history), tf.expandDims(mask, 2)); // [B, L, D], zero at padding
      const mean = tf.div(tf.sum(e, 1), tf.add(tf.sum(mask, 1, true), 1e-9)); // [B, D]
      const user = tf.add(tf.matMul(mean, this.kernel), this.bias);
      return tf.expandDims(user, 1) as tf.Tensor3D;
    });
  }
}
