/**
 * ComiRec-DR (Cen et al., KDD 2020): multi-interest extraction by dynamic routing with a
 * separate bilinear map for every (window position, interest) pair.
 *
 *   û_{k,i} = W_{i,k} e_i                  W_{i,k} ∈ R^{D×D}, i = 1..L (position in the window), k = 1..K
 *   b⁰_{k,i} = 0                           routing logits start at zero
 *   r iterations (default 3) of
 *     c_{k,i} = m_i · softmax_k(b_{k,i})     over the K interests; padded i get 0
 *     s_k = Σ_i c_{k,i} û_{k,i},   v_k = squash(s_k),   b_{k,i} += û_{k,i} · v_k
 *   interests v_1..v_K (no ReLU layer by default, as in ComiRec's code)
 *
 * Training scores the interest with the largest inner product with the target (hard
 * readout, ComiRec's code). Routing facts (softmax axis, stop-gradient, squash epsilon) are
 * those of ComiRec's CapsuleNetwork, see layers/capsule.ts.
 *
 * Position-dependent maps: the official code keeps W as one [1, L, K·D, D] tensor drawn from
 * N(0, 1) (tf.random_normal_initializer's default stddev), so a window must have exactly L
 * positions: windows are right-padded, position i holds the i-th oldest item of the window.
 * seqrec stores the same maps as [L, D, K·D] (W[i][:, kD:(k+1)D] = W_{i,k}ᵀ) so that all
 * positions run as one batched matmul, and requires batches of exactly `maxLen`.
 *
 * With zero initial logits and the softmax over interests, the first iteration gives every
 * real behaviour weight 1/K in every capsule; the capsules still differ because the maps do.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceBatch } from '../data/types.js';
import type { z } from 'zod';
import type { BatchTensors } from './base.js';
import { dynamicRouting } from './layers/capsule.js';
import { glorotUniform, normalArray } from './layers/init.js';
import { positionwiseMatMul } from '../ops/position-matmul.js';
import { booleanField, integerIn, numberWhere, resolveModelConfig } from './config.js';
import { DEFAULT_MULTI_INTEREST_CONFIG, MultiInterestConfigSchema, MultiInterestRecaller, type InterestOutput } from './multi-interest.js';

export const DEFAULT_COMIREC_DR_CONFIG = Object.freeze({
  ...DEFAULT_MULTI_INTEREST_CONFIG,
  routingIterations: 3,
  bilinearInitStd: 1,
  reluLayer: false,
  sharpenPower: 1,
});

export const ComiRecDRConfigSchema = MultiInterestConfigSchema.extend({
  /** Routing iterations. Default 3 (ComiRec's code). */
  routingIterations: integerIn(1).default(DEFAULT_COMIREC_DR_CONFIG.routingIterations),
  /** Standard deviation of the N(0, σ²) initialisation of the maps. Default 1 (ComiRec's code). */
  bilinearInitStd: numberWhere('a finite number > 0', (v) => v > 0).default(DEFAULT_COMIREC_DR_CONFIG.bilinearInitStd),
  /** Dense D->D + ReLU on the capsules. Default false (ComiRec-DR never has it). */
  reluLayer: booleanField().default(DEFAULT_COMIREC_DR_CONFIG.reluLayer),
  /** Exponent p of the sharpened squash (|s|²/(1+|s|²))^p · s/|s|, 0 < p <= 1. Default 1 (plain squash). */
  sharpenPower: numberWhere('in (0, 1]', (v) => v > 0 && v <= 1).default(DEFAULT_COMIREC_DR_CONFIG.sharpenPower),
});

export type ComiRecDRConfig = z.output<typeof ComiRecDRConfigSchema>;
export type ComiRecDROptions = z.input<typeof ComiRecDRConfigSchema>;

export class ComiRecDR extends MultiInterestRecaller<ComiRecDRConfig> {
  readonly name = 'comirec-dr';
  readonly numInterests: number;
  readonly config: Readonly<ComiRecDRConfig>;
  /** [L, D, K·D]: row vector e_i times W[i] gives the K predictions of position i. */
  private readonly maps: tf.Variable;
  private readonly reluKernel: tf.Variable | null = null;
  private readonly reluBias: tf.Variable | null = null;

  constructor(options: ComiRecDROptions) {
    const config = resolveModelConfig(ComiRecDRConfigSchema, options, 'ComiRecDR');
    super(config);
    this.config = Object.freeze(config);
    this.numInterests = config.numInterests;
    const { maxLen: l, embeddingDim: d, numInterests: k } = config;
    this.maps = this.addWeight('bilinear/maps', normalArray(this.initRng, l * d * k * d, config.bilinearInitStd), [l, d, k * d]);
    if (config.reluLayer) {
      this.reluKernel = this.addWeight('relu/kernel', glorotUniform(this.initRng, [d, d]), [d, d]);
      this.reluBias = this.addWeight('relu/bias', new Float32Array(d), [d]);
    }
  }

  getConfig(): ComiRecDRConfig {
    return { ...this.config };
  }

  /** The maps depend on the position, so windows must have exactly maxLen positions. */
  protected override get requiresExactLength(): boolean {
    return true;
  }

  protected extractInterests(_batch: SequenceBatch, t: BatchTensors, _training: boolean): InterestOutput {
    const [b, l] = t.history.shape;
    const { embeddingDim: d, numInterests: k } = this.config;
    const e = this.embedHistory(t); // [B, L, D], zero at padding
    // Position-major: [L, B, D] x [L, D, K·D] -> [L, B, K·D] -> [B, K, L, D], one 2-D matmul per
    // position (see positionwiseMatMul for why not a batched matmul).
    const byPosition = positionwiseMatMul(tf.transpose(e, [1, 0, 2]) as tf.Tensor3D, this.maps as tf.Tensor3D);
    const u = tf.transpose(tf.reshape(byPosition, [l, b, k, d]), [1, 2, 0, 3]) as tf.Tensor4D;
    // ComiRec-DR starts the routing logits at zero.
    const { capsules } = dynamicRouting(
      { predictions: u, logits: tf.zeros([b, k, l]), mask: t.mask },
      { iterations: this.config.routingIterations, sharpenPower: this.config.sharpenPower },
    );
    let interests = capsules;
    if (this.reluKernel && this.reluBias) {
      interests = tf.reshape(tf.relu(tf.add(tf.matMul(tf.reshape(capsules, [b * k, d]), this.reluKernel), this.reluBias)), [b, k, d]) as tf.Tensor3D;
    }
    return { interests, active: null };
  }
}
