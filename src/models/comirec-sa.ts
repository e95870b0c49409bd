/**
 * ComiRec-SA (Cen et al., KDD 2020): multi-interest extraction by self-attention.
 *
 *   H  = E + P                                   item embeddings [L, D] plus learned position embeddings
 *   A  = softmax_positions( W2 tanh(W1 Hᵀ + b1) )   A ∈ R^{K×L}, W1 ∈ R^{4D×D}, W2 ∈ R^{K×4D}
 *        (padded positions get the logit −2³² + 1 before the softmax, i.e. weight 0)
 *   V  = A E                                      the K interests [K, D]
 *
 * Facts of the official code (THUDM/ComiRec src/model.py, Model_ComiRec_SA), followed here:
 * - positions only shape the attention: the interests are weighted sums of the item
 *   embeddings WITHOUT the position embeddings (`valuesWithPositions: true` uses H instead);
 * - the hidden layer has 4·D units with tanh and a bias; the position table is one learned
 *   [L, D] matrix with TF's default glorot-uniform initialisation (fan_in L, fan_out D);
 * - training scores the interest with the largest inner product with the target (argmax).
 *
 * One deviation: the official second dense layer also has a bias (one number per interest).
 * A softmax over positions is invariant to adding a constant to every position of an
 * interest, so that bias never changes the model and its gradient is exactly 0; seqrec leaves
 * it out.
 *
 * Window length: position i is the i-th oldest item of the right-padded window, so a window
 * of L ≤ maxLen positions uses the first L position embeddings and gives the same interests
 * as the same history padded to maxLen. Longer windows are rejected.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceBatch } from '../data/types.js';
import { SeqrecError } from '../errors.js';
import type { BatchTensors } from './base.js';
import { MASKED_LOGIT } from './layers/capsule.js';
import { glorotUniform } from './layers/init.js';
import type { z } from 'zod';
import { booleanField, integerIn, resolveModelConfig } from './config.js';
import { DEFAULT_MULTI_INTEREST_CONFIG, MultiInterestConfigSchema, MultiInterestRecaller, type InterestOutput } from './multi-interest.js';

export const DEFAULT_COMIREC_SA_CONFIG = Object.freeze({
  ...DEFAULT_MULTI_INTEREST_CONFIG,
  positionEmbeddings: true,
  valuesWithPositions: false,
});

/** ComiRec-SA's config; defaults from `DEFAULT_COMIREC_SA_CONFIG`, `attentionDim` defaults to 4 · embeddingDim. */
export const ComiRecSAConfigSchema = MultiInterestConfigSchema.extend({
  /** Units of the tanh layer. Default 4 · embeddingDim (ComiRec's hidden_size * 4). */
  attentionDim: integerIn(1).optional(),
  /** Add learned position embeddings to the attention input. Default true (ComiRec's add_pos). */
  positionEmbeddings: booleanField().default(DEFAULT_COMIREC_SA_CONFIG.positionEmbeddings),
  /** Interests as A (E + P) instead of A E. Default false (ComiRec's code: A E). */
  valuesWithPositions: booleanField().default(DEFAULT_COMIREC_SA_CONFIG.valuesWithPositions),
})
  .refine((c) => !c.valuesWithPositions || c.positionEmbeddings, {
    path: ['valuesWithPositions'],
    error: (iss) => `must be false when positionEmbeddings is false, got ${String((iss.input as { valuesWithPositions?: unknown }).valuesWithPositions)}`,
  })
  .transform(({ attentionDim, ...c }) => ({ ...c, attentionDim: attentionDim ?? 4 * c.embeddingDim }));

export type ComiRecSAConfig = z.output<typeof ComiRecSAConfigSchema>;
export type ComiRecSAOptions = z.input<typeof ComiRecSAConfigSchema>;

export class ComiRecSA extends MultiInterestRecaller<ComiRecSAConfig> {
  readonly name = 'comirec-sa';
  readonly numInterests: number;
  readonly config: Readonly<ComiRecSAConfig>;
  private readonly positions: tf.Variable | null = null;
  private readonly w1: tf.Variable;
  private readonly b1: tf.Variable;
  private readonly w2: tf.Variable;

  constructor(options: ComiRecSAOptions) {
    const config = resolveModelConfig(ComiRecSAConfigSchema, options, 'ComiRecSA');
    super(config);
    this.config = Object.freeze(config);
    this.numInterests = config.numInterests;
    const { maxLen: l, embeddingDim: d, attentionDim: h, numInterests: k } = config;
    if (config.positionEmbeddings) this.positions = this.addWeight('positions', glorotUniform(this.initRng, [l, d]), [l, d]);
    this.w1 = this.addWeight('attention/w1', glorotUniform(this.initRng, [d, h]), [d, h]);
    this.b1 = this.addWeight('attention/b1', new Float32Array(h), [h]);
    this.w2 = this.addWeight('attention/w2', glorotUniform(this.initRng, [h, k]), [h, k]);
  }

  getConfig(): ComiRecSAConfig {
    return { ...this.config };
  }

  protected extractInterests(_batch: SequenceBatch, t: BatchTensors, _training: boolean): InterestOutput {
    const [b, l] = t.history.shape;
    const { maxLen, embeddingDim: d, numInterests: k } = this.config;
    if (l > maxLen) {
      throw new SeqrecError('shape_mismatch', `comirec-sa has position embeddings for ${maxLen} positions, got a batch with maxLen ${l}`);
    }
    const e = this.embedHistory(t); // [B, L, D], zero at padding
    const withPositions = this.positions ? (tf.add(e, tf.slice(this.positions, [0, 0], [l, d])) as tf.Tensor3D) : e;
    const hidden = tf.tanh(tf.add(tf.matMul(tf.reshape(withPositions, [b * l, d]), this.w1), this.b1)); // [B*L, H]
    const logits = tf.transpose(tf.reshape(tf.matMul(hidden, this.w2), [b, l, k]), [0, 2, 1]); // [B, K, L]
    // Padded positions: logit −2³² + 1 (ComiRec's value), whose exp underflows to exactly 0.
    const m = tf.expandDims(t.mask, 1);
    const masked = tf.add(tf.mul(logits, m), tf.mul(tf.sub(1, m), MASKED_LOGIT));
    const attention = tf.softmax(masked); // over the last axis: positions
    const values = this.config.valuesWithPositions ? withPositions : e;
    return { interests: tf.matMul(attention, values) as tf.Tensor3D, active: null };
  }
}
