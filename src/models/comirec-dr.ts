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
import { SeqrecError } from '../errors.js';
import type { BatchTensors } from './base.js';
import { dynamicRouting } from './layers/capsule.js';
import { glorotUniform, normalArray } from './layers/init.js';
import { positionwiseMatMul } from '../ops/position-matmul.js';
import { MultiInterestRecaller, validateMultiInterestConfig, type InterestOutput, type MultiInterestConfig } from './multi-interest.js';

export interface ComiRecDRConfig extends MultiInterestConfig {
  /** Routing iterations. Default 3 (ComiRec's code). */
  routingIterations: number;
  /** Standard deviation of the N(0, σ²) initialisation of the maps. Default 1 (ComiRec's code). */
  bilinearInitStd: number;
  /** Dense D->D + ReLU on the capsules. Default false (ComiRec-DR never has it). */
  reluLayer: boolean;
  /** Exponent p of the sharpened squash (|s|²/(1+|s|²))^p · s/|s|, 0 < p <= 1. Default 1 (plain squash). */
  sharpenPower: number;
}

export const DEFAULT_COMIREC_DR_CONFIG: Readonly<Omit<ComiRecDRConfig, 'itemCount'>> = Object.freeze({
  embeddingDim: 64,
  maxLen: 20,
  seed: 42,
  numInterests: 4,
  readout: 'hard',
  readoutPower: 2,
  diversityWeight: 0,
  routingIterations: 3,
  bilinearInitStd: 1,
  reluLayer: false,
  sharpenPower: 1,
});

export type ComiRecDROptions = Partial<ComiRecDRConfig> & { itemCount: number };

export class ComiRecDR extends MultiInterestRecaller {
  readonly name = 'comirec-dr';
  readonly numInterests: number;
  readonly config: Readonly<ComiRecDRConfig>;
  /** [L, D, K·D]: row vector e_i times W[i] gives the K predictions of position i. */
  private readonly maps: tf.Variable;
  private readonly reluKernel: tf.Variable | null = null;
  private readonly reluBias: tf.Variable | null = null;

  constructor(options: ComiRecDROptions) {
    const config: ComiRecDRConfig = { ...DEFAULT_COMIREC_DR_CONFIG, ...options };
    validateComiRecDRConfig(config);
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

function validateComiRecDRConfig(c: ComiRecDRConfig): void {
  validateMultiInterestConfig(c, 'ComiRecDR');
  const fail = (field: string, want: string, got: unknown) => {
    throw new SeqrecError('invalid_config', `ComiRecDR: ${field} must be ${want}, got ${String(got)}`, { field });
  };
  if (!Number.isInteger(c.routingIterations) || c.routingIterations < 1) fail('routingIterations', 'an integer >= 1', c.routingIterations);
  if (!(Number.isFinite(c.bilinearInitStd) && c.bilinearInitStd > 0)) fail('bilinearInitStd', 'a finite number > 0', c.bilinearInitStd);
  if (typeof c.reluLayer !== 'boolean') fail('reluLayer', 'a boolean', c.reluLayer);
  if (!(c.sharpenPower > 0 && c.sharpenPower <= 1)) fail('sharpenPower', 'in (0, 1]', c.sharpenPower);
}
