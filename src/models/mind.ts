/**
 * MIND, Multi-Interest Network with Dynamic routing (Li et al., CIKM 2019), the
 * behaviour-to-interest (B2I) routing layer as a sequential recall model.
 *
 *   û_i   = S e_i                                  one bilinear map S ∈ R^{D×D} shared by all interests
 *   b⁰_ki ~ N(0, σ²)                               random initial routing logits (σ = 1)
 *   r iterations (default 3) of
 *     c_ki = m_i · softmax_k(b_ki)                  over the K interests; padded i get 0
 *     s_k  = Σ_i c_ki û_i,   v_k = squash(s_k),   b_ki += û_i · v_k
 *   u_k   = ReLU(W v_k + w)                          the "ReLU layer" after the capsules (configurable)
 *
 * Training scores the label-aware user vector with the loss: default 'hard' (the interest
 * with the largest u_k · e, the p → ∞ limit that MIND's paper found best and what ComiRec's
 * code trains MIND with); 'soft' = softmax((U e)^p) U with p = readoutPower.
 * Routing details follow ComiRec's official implementation (see layers/capsule.ts): softmax
 * over interests, stop-gradient on the logits and on û in all iterations but the last,
 * squash with epsilon.
 *
 * Random logits. A shared S gives every interest the same predictions, so only the random
 * b⁰ makes the K capsules differ (ComiRec-DR's per-interest maps do not need it). The
 * official code draws b⁰ from tf.truncated_normal(stddev=1) on every forward pass, so its
 * MIND interests are random at inference too. seqrec draws:
 * - in training: from the model's `trainRng` (one fresh [B, K, L] draw per batch, seeded);
 * - at inference: from ONE fixed matrix b⁰ ∈ R^{K×L} (column i drawn position by position
 *   from `Random(inferenceSeed ^ 0x4d494e44)`), shared by every user. A user's interests
 *   therefore depend only on the history, not on the batch row, the batch-mates or the
 *   window's padding, and evaluating twice gives identical numbers.
 *
 * Dynamic interest count (optional, `dynamicInterests`): K'_u = max(1, min(K, ⌊log2 n_u⌋))
 * where n_u is the number of real items in the user's window (the model only sees the
 * window: with maxLen 20, K'_u ≤ 4). Capsules k >= K'_u are excluded from the routing
 * softmax, from label-aware attention and from the diversity term, and at inference their
 * slots hold a copy of interest 0 (see multi-interest.ts), so retrieval returns exactly the
 * candidates of the K'_u interests in use. `activeInterestCounts` reports K'_u.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../util/random.js';
import type { SequenceBatch } from '../data/types.js';
import type { z } from 'zod';
import type { BatchTensors } from './base.js';
import { dynamicRouting } from './layers/capsule.js';
import { glorotUniform } from './layers/init.js';
import { booleanField, integerIn, numberWhere, oneOf, resolveModelConfig } from './config.js';
import { DEFAULT_MULTI_INTEREST_CONFIG, MultiInterestConfigSchema, MultiInterestRecaller, type InterestOutput } from './multi-interest.js';

export const DEFAULT_MIND_CONFIG = Object.freeze({
  ...DEFAULT_MULTI_INTEREST_CONFIG,
  routingIterations: 3,
  logitStd: 1,
  logitInit: 'truncated' as 'truncated' | 'normal',
  reluLayer: true,
  bilinearBias: false,
  sharpenPower: 1,
  dynamicInterests: false,
});

/** MIND's config; defaults from `DEFAULT_MIND_CONFIG`, `inferenceSeed` defaults to `seed`. */
export const MINDConfigSchema = MultiInterestConfigSchema.extend({
  /** Routing iterations r. Default 3 (the paper and ComiRec's code). */
  routingIterations: integerIn(1).default(DEFAULT_MIND_CONFIG.routingIterations),
  /** σ of the initial routing logits. Default 1 (paper; ComiRec's stddev=1.0). */
  logitStd: numberWhere('a finite number > 0', (v) => v > 0).default(DEFAULT_MIND_CONFIG.logitStd),
  /**
   * 'truncated' (default): N(0, σ²) redrawn outside ±2σ, ComiRec's tf.truncated_normal.
   * 'normal': plain N(0, σ²), the paper's wording and the PyTorch peer.
   */
  logitInit: oneOf(['truncated', 'normal']).default(DEFAULT_MIND_CONFIG.logitInit),
  /** Seed of the fixed inference logits. Default: `seed`. */
  inferenceSeed: numberWhere('a finite number').optional(),
  /** Exponent p of the sharpened squash (|s|²/(1+|s|²))^p · s/|s|, 0 < p <= 1. Default 1 (plain squash). */
  sharpenPower: numberWhere('in (0, 1]', (v) => v > 0 && v <= 1).default(DEFAULT_MIND_CONFIG.sharpenPower),
  /** Dense D->D + ReLU on the capsules (the paper's "ReLU layer"). Default true. */
  reluLayer: booleanField().default(DEFAULT_MIND_CONFIG.reluLayer),
  /**
   * Bias on the bilinear map, û_i = S e_i + β. Default false (the paper's û = S e). ComiRec's
   * code builds S as tf.layers.dense(..., bias_initializer=None), which in TF 1.x still has a
   * bias, glorot-uniform initialised; `true` reproduces that.
   */
  bilinearBias: booleanField().default(DEFAULT_MIND_CONFIG.bilinearBias),
  /** Use K'_u = max(1, min(K, ⌊log2 n_u⌋)) interests per user. Default false (ComiRec's MIND: fixed K). */
  dynamicInterests: booleanField().default(DEFAULT_MIND_CONFIG.dynamicInterests),
}).transform(({ inferenceSeed, ...c }) => ({ ...c, inferenceSeed: inferenceSeed ?? c.seed }));

export type MINDConfig = z.output<typeof MINDConfigSchema>;
export type MINDOptions = z.input<typeof MINDConfigSchema>;

/** Salt of the inference stream ('MIND' in ASCII), so it differs from the init/train streams of the same seed. */
const INFERENCE_SALT = 0x4d494e44;

export class MIND extends MultiInterestRecaller<MINDConfig> {
  readonly name = 'mind';
  readonly numInterests: number;
  readonly config: Readonly<MINDConfig>;
  private readonly bilinear: tf.Variable;
  private readonly bilinearBiasWeight: tf.Variable | null = null;
  private readonly reluKernel: tf.Variable | null = null;
  private readonly reluBias: tf.Variable | null = null;
  /** Inference logits, position-major: column i (K values) at [i*K, (i+1)*K). Grown on demand. */
  private inferenceLogitCache = new Float32Array(0);
  private readonly inferenceStream: Random;

  constructor(options: MINDOptions) {
    const config = resolveModelConfig(MINDConfigSchema, options, 'MIND');
    super(config);
    this.config = Object.freeze(config);
    this.numInterests = config.numInterests;
    const d = config.embeddingDim;
    // TF's default initialisers, as in ComiRec: glorot-uniform kernels, zero ReLU-layer bias.
    this.bilinear = this.addWeight('bilinear/kernel', glorotUniform(this.initRng, [d, d]), [d, d]);
    if (config.bilinearBias) {
      // TF 1.x gives a bias with a None initialiser glorot-uniform values (fan_in = fan_out = D).
      this.bilinearBiasWeight = this.addWeight('bilinear/bias', glorotUniform(this.initRng, [d], d, d), [d]);
    }
    if (config.reluLayer) {
      this.reluKernel = this.addWeight('relu/kernel', glorotUniform(this.initRng, [d, d]), [d, d]);
      this.reluBias = this.addWeight('relu/bias', new Float32Array(d), [d]);
    }
    this.inferenceStream = new Random(config.inferenceSeed ^ INFERENCE_SALT);
  }

  getConfig(): MINDConfig {
    return { ...this.config };
  }

  /** K'_u per row: max(1, min(K, ⌊log2 n⌋)) with `dynamicInterests`, else K. */
  override activeInterestCounts(batch: SequenceBatch): Int32Array {
    const out = new Int32Array(batch.batchSize);
    for (let b = 0; b < batch.batchSize; b++) out[b] = this.interestCount(batch.lengths[b]);
    return out;
  }

  private interestCount(length: number): number {
    const k = this.numInterests;
    if (!this.config.dynamicInterests) return k;
    return Math.max(1, Math.min(k, Math.floor(Math.log2(Math.max(1, length)))));
  }

  /**
   * The fixed inference logits b⁰ for windows of `length` positions, [K, length] row-major.
   * Column i is the same whatever the length asked for.
   */
  inferenceLogits(length: number): Float32Array {
    const k = this.numInterests;
    const have = this.inferenceLogitCache.length / k;
    if (length > have) {
      const grown = new Float32Array(length * k);
      grown.set(this.inferenceLogitCache);
      for (let j = have * k; j < length * k; j++) grown[j] = this.drawLogit(this.inferenceStream);
      this.inferenceLogitCache = grown;
    }
    const out = new Float32Array(k * length);
    for (let i = 0; i < length; i++) for (let kk = 0; kk < k; kk++) out[kk * length + i] = this.inferenceLogitCache[i * k + kk];
    return out;
  }

  private drawLogit(rng: Random): number {
    const std = this.config.logitStd;
    let x = rng.normal();
    if (this.config.logitInit === 'truncated') while (Math.abs(x) > 2) x = rng.normal();
    return x * std;
  }

  private initialLogits(batch: number, length: number, training: boolean): tf.Tensor3D {
    const k = this.numInterests;
    if (training) {
      const values = new Float32Array(batch * k * length);
      for (let j = 0; j < values.length; j++) values[j] = this.drawLogit(this.trainRng);
      return tf.tensor3d(values, [batch, k, length]);
    }
    const fixed = tf.tensor3d(this.inferenceLogits(length), [1, k, length]);
    return tf.tile(fixed, [batch, 1, 1]) as tf.Tensor3D;
  }

  private activeMask(lengths: Int32Array): tf.Tensor2D | null {
    if (!this.config.dynamicInterests) return null;
    const k = this.numInterests;
    const m = new Float32Array(lengths.length * k);
    for (let b = 0; b < lengths.length; b++) m.fill(1, b * k, b * k + this.interestCount(lengths[b]));
    return tf.tensor2d(m, [lengths.length, k]);
  }

  protected extractInterests(batch: SequenceBatch, t: BatchTensors, training: boolean): InterestOutput {
    const [b, l] = t.history.shape;
    const d = this.embeddingDim;
    const e = this.embedHistory(t); // [B, L, D], zero at padding
    let u = tf.reshape(tf.matMul(tf.reshape(e, [b * l, d]), this.bilinear), [b, l, d]) as tf.Tensor3D;
    if (this.bilinearBiasWeight) u = tf.add(u, this.bilinearBiasWeight) as tf.Tensor3D;
    const active = this.activeMask(batch.lengths);
    const { capsules } = dynamicRouting(
      { predictions: u, logits: this.initialLogits(b, l, training), mask: t.mask, capsuleMask: active },
      { iterations: this.config.routingIterations, sharpenPower: this.config.sharpenPower },
    );
    let interests = capsules;
    if (this.reluKernel && this.reluBias) {
      const k = this.numInterests;
      interests = tf.reshape(tf.relu(tf.add(tf.matMul(tf.reshape(capsules, [b * k, d]), this.reluKernel), this.reluBias)), [b, k, d]) as tf.Tensor3D;
    }
    return { interests, active };
  }
}
