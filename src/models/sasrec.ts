/**
 * SASRec (Kang & McAuley, ICDM 2018, "Self-Attentive Sequential Recommendation") on seqrec's
 * recaller contract: one interest, the representation at the last real position.
 *
 *   x⁰_i = √D · E[s_i] + P[pos_i]                       (dropout, then padded rows set to 0)
 *   per block:  q = LN₁(x);  x = q + Attn(q, x);  y = LN₂(x);  x = (y + FFN(y)) ⊙ m
 *   h = LN_final(x)
 *   Attn(q, x) = softmax(Q Kᵀ / √(D/H) + M) V,  Q = q W_Q + b_Q,  K = x W_K + b_K,  V = x W_V + b_V
 *   FFN(y)     = ReLU(y W₁ + b₁) W₂ + b₂                 (dropout after the ReLU and after W₂)
 *
 * The LayerNorm arrangement is the original TF code's (kang205/SASRec), as the peer documents
 * it: LN before each sub-layer, but both residuals add the NORMALISED stream. No output
 * projection after attention (the original has none). See docs/models/sasrec.md.
 *
 * Padding: seqrec's windows are RIGHT-padded (oldest item at slot 0, padding after the last
 * real item; src/data/types.ts), unlike the original's left padding. M hides future keys
 * (j > i) and padded keys; with right padding a real query never has a padded key in its
 * causal past, so the padded-key part only keeps padded rows tidy, and padded rows are zeroed
 * after the embedding and after every block.
 *
 * Positions: `positionOrigin: 'end'` (default) numbers slot i of a window with n real items
 * as maxLen − n + i, so the most recent item always has position maxLen − 1: what the
 * original's full-width left-padded windows (range(maxLen)) and the peer (counted from the
 * end) give. 'start' numbers it i (K&V's right-padded port). Both are independent of how much
 * padding a batch carries.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { z } from 'zod';
import { MAX_WINDOW_LENGTH } from '../data/dataset-options.js';
import type { SequenceBatch, TrainBatch } from '../data/types.js';
import type { LossFunction } from '../losses/types.js';
import { SeqrecError } from '../errors.js';
import { embeddingLookup } from '../ops/embedding.js';
import { BaseRecaller, dropoutMask, type UserEmbeddingOptions } from './base.js';
import {
  booleanField,
  DEFAULT_BASE_CONFIG,
  integerIn,
  ItemFeatureConfigFields,
  ModelBaseConfigSchema,
  numberWhere,
  oneOf,
  resolveModelConfig,
} from './config.js';
import { glorotUniform } from './layers/init.js';
import { lossAtPositions, realRows, sequenceTargets } from './sequence-loss.js';
import {
  attentionBias,
  feedForward,
  layerNorm,
  selfAttention,
  type AttentionWeights,
  type FeedForwardWeights,
  type LayerNormWeights,
} from './layers/transformer.js';

export { normaliserInChunks, sequenceTargets, type SequenceTargets } from './sequence-loss.js';

export const DEFAULT_SASREC_CONFIG = Object.freeze({
  ...DEFAULT_BASE_CONFIG,
  maxLen: 200,
  numBlocks: 2,
  numHeads: 1,
  dropout: 0.2,
  scaleEmbeddings: true,
  positionOrigin: 'end' as 'end' | 'start',
  separateOutput: false,
});

/** SASRec's config; defaults from `DEFAULT_SASREC_CONFIG`. */
export const SASRecConfigSchema = ModelBaseConfigSchema.extend({
  /** Window length L and rows of the position table. Default 200 (the paper's ML-1M setting; 50 for its sparser datasets). */
  maxLen: integerIn(1, MAX_WINDOW_LENGTH).default(DEFAULT_SASREC_CONFIG.maxLen),
  /** Self-attention blocks. Default 2 (the paper's). */
  numBlocks: integerIn(1, 64).default(DEFAULT_SASREC_CONFIG.numBlocks),
  /** Attention heads splitting embeddingDim (which they must divide). Default 1 (the paper's). */
  numHeads: integerIn(1).default(DEFAULT_SASREC_CONFIG.numHeads),
  /** Drop probability on the embeddings, the attention weights and both FFN layers, training only. Default 0.2 (the paper's ML-1M rate). */
  dropout: numberWhere('in [0, 1)', (v) => v >= 0 && v < 1).default(DEFAULT_SASREC_CONFIG.dropout),
  /** Multiply input item embeddings by √D (the original code's scale=True; the peer does too). Default true. */
  scaleEmbeddings: booleanField().default(DEFAULT_SASREC_CONFIG.scaleEmbeddings),
  /** 'end': the most recent item has position maxLen − 1 (original, peer); 'start': the oldest has 0. Default 'end'. */
  positionOrigin: oneOf(['end', 'start']).default(DEFAULT_SASREC_CONFIG.positionOrigin),
  /**
   * Score against a separate output item table (gSASRec) instead of the input table. Default
   * false (the original shares it). The scoring table is `itemEmbeddings()` either way.
   */
  separateOutput: booleanField().default(DEFAULT_SASREC_CONFIG.separateOutput),
  ...ItemFeatureConfigFields,
}).refine((c) => c.embeddingDim % c.numHeads === 0, {
  path: ['numHeads'],
  error: (iss) => {
    const c = iss.input as { numHeads?: unknown; embeddingDim?: unknown };
    return `must divide embeddingDim ${String(c.embeddingDim)}, got ${String(c.numHeads)}`;
  },
});

export type SASRecConfig = z.output<typeof SASRecConfigSchema>;
export type SASRecOptions = z.input<typeof SASRecConfigSchema>;

interface Block {
  ln1: LayerNormWeights;
  attention: AttentionWeights;
  ln2: LayerNormWeights;
  ffn: FeedForwardWeights;
}

export class SASRec extends BaseRecaller<SASRecConfig> {
  readonly name = 'sasrec';
  readonly numInterests = 1;
  /** The Trainer trains SASRec at every position (`sequenceLoss`) unless told `targets: 'last'`. */
  override readonly defaultTargets = 'every';
  readonly config: Readonly<SASRecConfig>;
  /** The input table when `separateOutput`; otherwise the input lookup reads the scoring table. */
  private readonly inputTable: tf.Variable | null = null;
  private readonly positions: tf.Variable;
  private readonly blocks: Block[] = [];
  private readonly finalNorm: LayerNormWeights;

  constructor(options: SASRecOptions) {
    const config = resolveModelConfig(SASRecConfigSchema, options, 'SASRec');
    super(config);
    this.config = Object.freeze(config);
    const { embeddingDim: d, maxLen, itemCount } = config;
    if (config.separateOutput) {
      const values = glorotUniform(this.initRng, [itemCount, d]);
      values.fill(0, 0, d);
      this.inputTable = this.addWeight('input_embeddings', values, [itemCount, d]);
    }
    // Glorot-uniform weights, zero biases, LN γ = 1, β = 0: TF's defaults, which the original relies on.
    this.positions = this.addWeight('positions', glorotUniform(this.initRng, [maxLen, d]), [maxLen, d]);
    const matrix = (name: string) => this.addWeight(name, glorotUniform(this.initRng, [d, d]), [d, d]) as tf.Tensor2D;
    const zeros = (name: string) => this.addWeight(name, new Float32Array(d), [d]) as tf.Tensor1D;
    const norm = (name: string): LayerNormWeights => ({
      gamma: this.addWeight(`${name}/gamma`, new Float32Array(d).fill(1), [d]) as tf.Tensor1D,
      beta: zeros(`${name}/beta`),
    });
    for (let i = 0; i < config.numBlocks; i++) {
      const p = `block${i}`;
      const ln1 = norm(`${p}/ln1`);
      const attention = {
        wq: matrix(`${p}/attention/wq`),
        bq: zeros(`${p}/attention/bq`),
        wk: matrix(`${p}/attention/wk`),
        bk: zeros(`${p}/attention/bk`),
        wv: matrix(`${p}/attention/wv`),
        bv: zeros(`${p}/attention/bv`),
      };
      const ln2 = norm(`${p}/ln2`);
      const ffn = { w1: matrix(`${p}/ffn/w1`), b1: zeros(`${p}/ffn/b1`), w2: matrix(`${p}/ffn/w2`), b2: zeros(`${p}/ffn/b2`) };
      this.blocks.push({ ln1, attention, ln2, ffn });
    }
    this.finalNorm = norm('final_norm');
    // With separateOutput the features add to the scoring table only (the input table has none).
    this.addFeatureBranch(config.itemFeatures, config.featureCount);
  }

  getConfig(): SASRecConfig {
    return { ...this.config };
  }

  /** [B, 1, D]: the final representation at each row's last real position. */
  userEmbeddings(batch: SequenceBatch, options: UserEmbeddingOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const rows = this.encode(batch, options.training ?? false);
      const last = Int32Array.from(batch.lengths, (n, r) => r * batch.maxLen + n - 1);
      const user = layerNorm(embeddingLookup(rows, tf.tensor1d(last, 'int32')), this.finalNorm);
      return tf.expandDims(user, 1) as tf.Tensor3D;
    });
  }

  /** [B, L, D]: the final representation at every slot (padded slots hold LN_final(0) = β). */
  sequenceOutput(batch: SequenceBatch, options: UserEmbeddingOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const rows = this.encode(batch, options.training ?? false);
      return tf.reshape(layerNorm(rows, this.finalNorm), [batch.batchSize, batch.maxLen, this.embeddingDim]) as tf.Tensor3D;
    });
  }

  /**
   * Full-softmax cross-entropy at every real position (next-item targets from
   * `sequenceTargets`), averaged over the real positions, in training mode:
   *
   *   loss = mean_p [ log Σ_{j=1..N} exp(h_p · e_j)  −  h_p · e_{t_p} ]
   *
   * The normaliser is softmaxNormaliser on the [P, D] real rows against the scoring table
   * without its padding row; the target logit is a lookup and a row dot. Padded positions are
   * never scored.
   */
  override sequenceLoss(batch: TrainBatch, lossFn?: LossFunction): tf.Scalar {
    return this.trainingPhase(() => this.sequenceLossOf(batch, lossFn));
  }

  private sequenceLossOf(batch: TrainBatch, lossFn?: LossFunction): tf.Scalar {
    return tf.tidy(() => {
      const at = sequenceTargets(batch);
      const { positions } = at;
      // Full windows need no gather (and no scatter-add in the backward pass).
      const h = layerNorm(realRows(this.encode(batch, true), positions), this.finalNorm) as tf.Tensor2D;
      return lossAtPositions(h, this.scoringTable(), batch, at, this.trainRng, lossFn);
    });
  }

  /** [B·L, D]: the last block's output at every slot, before the final LayerNorm (padded rows 0). */
  private encode(batch: SequenceBatch, training: boolean): tf.Tensor2D {
    const { history, mask } = this.toTensors(batch);
    const [b, l] = history.shape;
    const { maxLen, embeddingDim: d, dropout, numHeads } = this.config;
    if (l > maxLen) throw new SeqrecError('shape_mismatch', `sasrec has position embeddings for ${maxLen} positions, got a batch with maxLen ${l}`);
    const full = batch.lengths.every((n) => n === l);
    const drop = training && dropout > 0 ? (t: tf.Tensor) => tf.mul(t, dropoutMask(this.trainRng, t.shape, dropout)) : null;
    let x: tf.Tensor = this.inputTable ? embeddingLookup(this.inputTable as tf.Tensor2D, history) : this.embed(history);
    if (this.config.scaleEmbeddings) x = tf.mul(x, Math.sqrt(d));
    x = tf.add(x, this.positionEmbeddings(batch, full));
    if (drop) x = drop(x);
    // Full windows have no padded rows to zero.
    const keep = full ? null : tf.reshape(mask, [b, l, 1]);
    if (keep) x = tf.mul(x, keep);
    const bias = attentionBias(batch.lengths, l);
    for (const block of this.blocks) {
      const q = layerNorm(x, block.ln1) as tf.Tensor3D;
      const attended = tf.add(q, selfAttention(q, x as tf.Tensor3D, block.attention, numHeads, bias, drop));
      const y = tf.reshape(layerNorm(attended, block.ln2), [b * l, d]) as tf.Tensor2D;
      x = tf.reshape(tf.add(y, feedForward(y, block.ffn, drop)), [b, l, d]);
      if (keep) x = tf.mul(x, keep);
    }
    return tf.reshape(x, [b * l, d]) as tf.Tensor2D;
  }

  /** Position embeddings [B, L, D] (or [1, L, D] when every row is full), numbered per `positionOrigin`. */
  private positionEmbeddings(batch: SequenceBatch, full: boolean): tf.Tensor {
    const { batchSize: b, maxLen: l, lengths } = batch;
    const d = this.embeddingDim;
    const fromEnd = this.config.positionOrigin === 'end';
    // Every row full: one slice, broadcast over the batch (its gradient is a sum over rows).
    if (full) return tf.reshape(tf.slice(this.positions, [fromEnd ? this.maxLen - l : 0, 0], [l, d]), [1, l, d]);
    const idx = new Int32Array(b * l);
    for (let r = 0; r < b; r++) {
      const offset = fromEnd ? this.maxLen - lengths[r] : 0;
      // Padded slots read row 0; they are zeroed right after.
      for (let i = 0; i < lengths[r]; i++) idx[r * l + i] = offset + i;
    }
    return embeddingLookup(this.positions as tf.Tensor2D, tf.tensor2d(idx, [b, l], 'int32'));
  }
}
