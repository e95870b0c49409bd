/**
 * GRU4Rec (Hidasi et al., ICLR 2016) as a sequential recall model: item embedding -> GRU ->
 * the user vector is the hidden state at the LAST REAL item of the window.
 *
 * Which GRU: seqrec implements its own cell with PyTorch's / cuDNN's equations (those of the
 * official PyTorch port's nn.GRUCell and of the PyTorch peer), not tf.layers.gru:
 *
 *   r_t = σ(x_t W_ir + b_ir + h_{t-1} W_hr + b_hr)
 *   z_t = σ(x_t W_iz + b_iz + h_{t-1} W_hz + b_hz)
 *   n_t = tanh(x_t W_in + b_in + r_t ⊙ (h_{t-1} W_hn + b_hn))      ("reset after" layout)
 *   h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}
 *
 * The Theano original (hidasib/GRU4Rec) is "reset before": n_t = tanh(x_t W_in + b_n +
 * (r_t ⊙ h_{t-1}) W_hn), without b_hn. seqrec offers only reset-after (the fused op's
 * hand-written backward pass is for that layout).
 *
 * tf.layers.gru defaults to a hardSigmoid recurrent activation and refuses the reset-after
 * layout, so its numbers would not match the papers' or the peer's GRU. Writing the cell
 * also lets the input projections of all time steps run as one matmul.
 *
 * Padding: windows are right-padded (ComiRec's layout). At a padded step the state is
 * carried over unchanged, h_t = m_t·h_t' + (1 − m_t)·h_{t−1}, so the final state equals the
 * state after the last real item whatever the padding (the tutorial's bug of reading
 * output[:, -1] after running over padding cannot happen). Tested as an invariant.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceBatch, TrainBatch } from '../data/types.js';
import type { LossFunction } from '../losses/types.js';
import { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { BaseRecaller, dropoutMask, type UserEmbeddingOptions } from './base.js';
import { DEFAULT_BASE_CONFIG, integerIn, ItemFeatureConfigFields, ModelBaseConfigSchema, numberWhere, oneOf, resolveModelConfig } from './config.js';
import { gruSequence, lastStep } from '../ops/gru-sequence.js';
import { embeddingLookup } from '../ops/embedding.js';
import { glorotUniform, uniformArray } from './layers/init.js';
import { lossAtPositions, realRows, sequenceTargets } from './sequence-loss.js';

export const DEFAULT_GRU4REC_CONFIG = Object.freeze({
  ...DEFAULT_BASE_CONFIG,
  numLayers: 1,
  dropout: 0,
  hiddenDropout: 0,
  outputBias: false,
  recurrence: 'fused' as 'fused' | 'ops',
});

const probability = () => numberWhere('in [0, 1)', (v) => v >= 0 && v < 1);

/** GRU4Rec's config; defaults from `DEFAULT_GRU4REC_CONFIG`, `hiddenDim` defaults to `embeddingDim`. */
export const GRU4RecConfigSchema = ModelBaseConfigSchema.extend({
  /** Stacked GRU layers. Default 1. */
  numLayers: integerIn(1).default(DEFAULT_GRU4REC_CONFIG.numLayers),
  /** GRU hidden size. Default = embeddingDim; otherwise a linear map projects the state to embeddingDim. */
  hiddenDim: integerIn(1).optional(),
  /**
   * How the recurrence runs: 'fused' (default) is one op per layer with a hand-written
   * backward pass (src/ops/gru-sequence.ts); 'ops' composes TF.js ops step by step
   * (slower; kept as the reference the fused op is tested against).
   */
  recurrence: oneOf(['fused', 'ops']).default(DEFAULT_GRU4REC_CONFIG.recurrence),
  /**
   * Drop probability on the input embeddings (before the first layer only), training only:
   * the official GRU4Rec's `dropout_p_embed`. Default 0. Between layers only `hiddenDropout`
   * applies, as in the official code (both versions drop the embedding once and each layer's
   * output once).
   */
  dropout: probability().default(DEFAULT_GRU4REC_CONFIG.dropout),
  /**
   * Drop probability on each GRU layer's output (the state passed up and scored), training
   * only: the official GRU4Rec's `dropout_p_hidden`. Default 0. It applies in both training
   * modes. In session-parallel steps the carried state is the dropped-out output, as in the
   * official code. In padded windows it drops each layer's outputs as they are passed up and
   * the last state as it is scored, but the recurrence inside the window runs on undropped
   * states (the official code has no windows; dropping inside the fused recurrence is not
   * implemented).
   */
  hiddenDropout: probability().default(DEFAULT_GRU4REC_CONFIG.hiddenDropout),
  /**
   * A per-item output bias b_j, score = u · e_j + b_j (the official GRU4Rec's `By`,
   * zero-initialised and trained). Default false. Stored as one more column of the item table
   * with a constant 1 appended to the user vector, so every loss, sampler, retriever and
   * bundle scores it unchanged and row-sparse updates move it with its row (the official code
   * also updates By sparsely). `embeddingDim` of the model is then D + 1; use inner-product
   * retrieval (cosine would normalise the bias column in).
   */
  outputBias: z.boolean({ error: (iss) => `must be true or false, got ${String(iss.input)}` }).default(DEFAULT_GRU4REC_CONFIG.outputBias),
  ...ItemFeatureConfigFields,
  /**
   * How item features enter the network (docs/models/features.md), with `itemFeatures` only:
   * 'shared' (the default when unset: one GRU over v_i = e_i + feature mean) or 'parallel'
   * (p-RNN: an id GRU over e_i and a feature GRU over the feature mean, their last states
   * concatenated and mapped linearly to the scoring width; items are still scored with v_i).
   * Left out of `getConfig()` when unset.
   */
  featureArchitecture: oneOf(['shared', 'parallel']).optional(),
}).transform(({ hiddenDim, ...c }) => ({ ...c, hiddenDim: hiddenDim ?? c.embeddingDim }));

/** The resolved config (`getConfig()`). */
export type GRU4RecConfig = z.output<typeof GRU4RecConfigSchema>;
/** What the constructor takes: `itemCount` and any fields to change from the defaults. */
export type GRU4RecOptions = z.input<typeof GRU4RecConfigSchema>;

interface GRULayer {
  wi: tf.Tensor2D; // [in, 3H]: columns r | z | n
  bi: tf.Tensor1D; // [3H]
  wh: tf.Tensor2D; // [H, 3H]
  bh: tf.Tensor1D; // [3H]
}

/** A GRU stack and the interleaving branch it belongs to (null: it trains on every step). */
interface GRUStack {
  layers: GRULayer[];
  branch: 'ids' | 'features' | null;
}

export class GRU4Rec extends BaseRecaller<GRU4RecConfig> {
  readonly name: string = 'gru4rec';
  readonly numInterests = 1;
  readonly config: Readonly<GRU4RecConfig>;
  private readonly layers: GRULayer[] = [];
  private readonly projection: tf.Variable | null = null;
  /** featureArchitecture 'parallel': the feature GRU, and the map [2H, D] of [h_id; h_feat] to the scoring width. */
  private readonly featureLayers: GRULayer[] = [];
  private readonly parallelProjection: tf.Variable | null = null;

  constructor(options: GRU4RecOptions) {
    const config = resolveModelConfig(GRU4RecConfigSchema, options, 'GRU4Rec');
    // With an output bias the item table has one more column (the bias), zeroed below.
    super(config.outputBias ? { ...config, embeddingDim: config.embeddingDim + 1 } : config);
    this.config = Object.freeze(config);
    if (config.outputBias) {
      const d = config.embeddingDim;
      tf.tidy(() => this.itemTable.assign(tf.concat([tf.slice(this.itemTable, [0, 0], [-1, d]), tf.zeros([config.itemCount, 1])], 1) as tf.Tensor2D));
    }
    const h = config.hiddenDim;
    const d = config.embeddingDim;
    const parallel = config.featureArchitecture === 'parallel';
    if (parallel && (config.itemFeatures === undefined || config.itemFeatures === 'none')) {
      throw new SeqrecError('invalid_config', "GRU4Rec: featureArchitecture 'parallel' needs item features (itemFeatures 'simultaneous' or 'interleaving')", {
        field: 'featureArchitecture',
      });
    }
    this.layers = this.addGRU('gru', config.numLayers);
    if (h !== d && !parallel) {
      this.projection = this.addWeight('projection', glorotUniform(this.initRng, [h, d]), [h, d]);
    }
    this.addFeatureBranch(config.itemFeatures, config.featureCount);
    if (parallel) {
      this.featureLayers = this.addGRU('feature_gru', config.numLayers);
      this.parallelProjection = this.addWeight('parallel_projection', glorotUniform(this.initRng, [2 * h, d]), [2 * h, d]);
    }
  }

  /** A stack of `count` GRU layers named `${prefix}${l}/...`, input width embeddingDim. */
  private addGRU(prefix: string, count: number): GRULayer[] {
    const h = this.config.hiddenDim;
    // PyTorch's GRU initialisation: every weight and bias U(-1/sqrt(H), 1/sqrt(H)).
    const limit = 1 / Math.sqrt(h);
    const layers: GRULayer[] = [];
    for (let l = 0; l < count; l++) {
      const inDim = l === 0 ? this.config.embeddingDim : h;
      layers.push({
        wi: this.addWeight(`${prefix}${l}/wi`, uniformArray(this.initRng, inDim * 3 * h, limit), [inDim, 3 * h]) as tf.Variable<tf.Rank.R2>,
        bi: this.addWeight(`${prefix}${l}/bi`, uniformArray(this.initRng, 3 * h, limit), [3 * h]) as tf.Variable<tf.Rank.R1>,
        wh: this.addWeight(`${prefix}${l}/wh`, uniformArray(this.initRng, h * 3 * h, limit), [h, 3 * h]) as tf.Variable<tf.Rank.R2>,
        bh: this.addWeight(`${prefix}${l}/bh`, uniformArray(this.initRng, 3 * h, limit), [3 * h]) as tf.Variable<tf.Rank.R1>,
      });
    }
    return layers;
  }

  getConfig(): GRU4RecConfig {
    return { ...this.config };
  }

  userEmbeddings(batch: SequenceBatch, options: UserEmbeddingOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const user = this.encode(batch, options.training ?? false).user;
      return tf.expandDims(this.withBiasInput(user), 1) as tf.Tensor3D;
    });
  }

  /**
   * The user vectors before the bias input: [B, D] from the last states, or with `positions`
   * (flat b·L + t indices of real steps) [positions, D] from the states at those steps.
   * Shared: one GRU stack over the rows of the scoring table. Parallel: the id GRU over the id
   * rows e_i, the feature GRU over the feature means, [h_id; h_feat] mapped by
   * `parallel_projection`; `scoring` is then the table (e_i + feature mean) to score with, null
   * for shared (`scoringTable()`). Call inside a tidy scope.
   */
  private encode(batch: SequenceBatch, training: boolean, positions?: Int32Array): { user: tf.Tensor2D; scoring: tf.Tensor2D | null } {
    const all = positions !== undefined;
    const { history, mask } = this.toTensors(batch);
    const [b, l] = history.shape;
    // Per-step masks [B, 1], time-major (the 'ops' recurrence).
    const stepMasks = tf.unstack(tf.transpose(mask, [1, 0])).map((m) => tf.expandDims(m, 1));
    const run = (stack: GRUStack, table: tf.Tensor2D) => {
      const states = this.runStack(stack, this.inputRows(embeddingLookup(table, history)) as tf.Tensor3D, mask, stepMasks, training, all);
      return all ? realRows(tf.reshape(states, [b * l, this.config.hiddenDim]) as tf.Tensor2D, positions) : (states as tf.Tensor2D);
    };
    if (!this.parallelProjection) {
      const h = run({ layers: this.layers, branch: null }, this.scoringTable());
      return { user: this.projection ? tf.matMul(h, this.projection) : h, scoring: null };
    }
    const { ids, features } = this.itemRowParts();
    const hIds = run({ layers: this.layers, branch: 'ids' }, ids);
    const hFeatures = run({ layers: this.featureLayers, branch: 'features' }, features);
    return { user: tf.matMul(tf.concat([hIds, hFeatures], 1), this.parallelProjection), scoring: tf.add(ids, features) as tf.Tensor2D };
  }

  /**
   * Input dropout, then the layers of `stack` over `inputs` [B, L, D] (the weights of a branch
   * interleaving holds in this step as constants), hidden dropout after each layer; returns the
   * last layer's states at every step [B, L, H] (`all`) or its last state [B, H].
   */
  private runStack(stack: GRUStack, inputs: tf.Tensor3D, mask: tf.Tensor2D, stepMasks: tf.Tensor[], training: boolean, all: boolean): tf.Tensor {
    const [b, l] = mask.shape;
    const { dropout, hiddenDropout } = this.config;
    if (training && dropout > 0) inputs = tf.mul(inputs, dropoutMask(this.trainRng, inputs.shape, dropout)) as tf.Tensor3D;
    let state: tf.Tensor2D | null = null;
    for (let li = 0; li < stack.layers.length; li++) {
      const layer = stack.branch ? this.heldLayer(stack.layers[li], stack.branch) : stack.layers[li];
      const { outputs, last } = this.runLayer(layer, inputs, mask, stepMasks, b, l, all || li < stack.layers.length - 1);
      state = last;
      if (outputs) inputs = outputs;
      if (training && hiddenDropout > 0) {
        if (outputs) inputs = tf.mul(inputs, dropoutMask(this.trainRng, inputs.shape, hiddenDropout)) as tf.Tensor3D;
        else state = tf.mul(last, dropoutMask(this.trainRng, last.shape, hiddenDropout)) as tf.Tensor2D;
      }
    }
    return all ? inputs : state!;
  }

  /** `layer` with every weight a constant when interleaving holds `branch` in this step. */
  private heldLayer(layer: GRULayer, branch: 'ids' | 'features'): GRULayer {
    return {
      wi: this.unlessHeld(branch, layer.wi),
      bi: this.unlessHeld(branch, layer.bi),
      wh: this.unlessHeld(branch, layer.wh),
      bh: this.unlessHeld(branch, layer.bh),
    };
  }

  /**
   * Full-softmax cross-entropy at every real position (the Trainer's `targets: 'every'`, as
   * the official GRU4Rec trains: every event of a sequence predicts the next one), averaged over
   * the real positions, in training mode. The outputs are the last layer's states at every step
   * of the fused recurrence (projected, with the bias input, as `userEmbeddings` gives the last
   * one); slot i predicts slot i + 1 and the last real slot the row's target
   * (`sequenceTargets`). Padded steps are never scored.
   */
  override sequenceLoss(batch: TrainBatch, lossFn?: LossFunction): tf.Scalar {
    return this.trainingPhase(() => this.sequenceLossOf(batch, lossFn));
  }

  private sequenceLossOf(batch: TrainBatch, lossFn?: LossFunction): tf.Scalar {
    return tf.tidy(() => {
      const at = sequenceTargets(batch);
      const { user, scoring } = this.encode(batch, true, at.positions);
      return lossAtPositions(this.withBiasInput(user), scoring ?? this.scoringTable(), batch, at, this.trainRng, lossFn);
    });
  }

  /** Input embeddings of `indices`: the item table's rows without the bias column. */
  private inputEmbeddings(indices: tf.Tensor): tf.Tensor {
    return this.inputRows(this.embed(indices));
  }

  /** Looked-up rows [..., D'] without the bias column. */
  private inputRows(rows: tf.Tensor): tf.Tensor {
    if (!this.config.outputBias) return rows;
    const begin = rows.shape.map(() => 0);
    const size = rows.shape.map((n, i) => (i === rows.rank - 1 ? this.config.embeddingDim : n));
    return tf.slice(rows, begin, size);
  }

  /** [R, D] -> [R, D + 1] with a constant 1 in the bias column (identity without outputBias). */
  private withBiasInput(user: tf.Tensor2D): tf.Tensor2D {
    return this.config.outputBias ? (tf.concat([user, tf.ones([user.shape[0], 1])], 1) as tf.Tensor2D) : user;
  }

  /** Hidden-state sizes of the layers (for session-parallel state stores). */
  stateSizes(): number[] {
    this.assertSessionSteps();
    return this.layers.map(() => this.config.hiddenDim);
  }

  /**
   * One step of GRU4Rec's session-parallel mini-batches: each row is a lane that feeds its
   * current item (`items`, [R]) from its carried per-layer states (`initialStates`, each
   * [R, hiddenDim]); `reset[r] = 1` zeroes row r's states first (its lane starts a new session).
   * Returns the user vectors [R, D] that score the next item and the new per-layer states
   * (with `training`, after hidden dropout, as the official code carries them). Backprop
   * through `initialStates` is up to the caller; trainSessionParallel passes constants
   * (truncated after one step, as the official GRU4Rec).
   */
  sessionStep(
    items: Int32Array,
    initialStates: tf.Tensor2D[],
    reset: Float32Array,
    options: UserEmbeddingOptions = {},
  ): { user: tf.Tensor2D; states: tf.Tensor2D[] } {
    this.assertSessionSteps();
    const rows = items.length;
    if (initialStates.length !== this.layers.length) {
      throw new SeqrecError('shape_mismatch', `GRU4Rec.sessionStep: ${initialStates.length} states for ${this.layers.length} layers`);
    }
    if (reset.length !== rows) throw new SeqrecError('shape_mismatch', `GRU4Rec.sessionStep: reset has ${reset.length} entries for ${rows} rows`);
    return tf.tidy(() => {
      const training = options.training ?? false;
      const h = this.config.hiddenDim;
      const resetT = tf.tensor2d(reset, [rows, 1]);
      let x = this.inputEmbeddings(tf.tensor1d(items, 'int32')) as tf.Tensor2D; // [R, D]
      if (training && this.config.dropout > 0) x = tf.mul(x, dropoutMask(this.trainRng, x.shape, this.config.dropout)) as tf.Tensor2D;
      const states: tf.Tensor2D[] = [];
      for (let li = 0; li < this.layers.length; li++) {
        const layer = this.layers[li];
        const xProj = tf.add(tf.matMul(x, layer.wi), layer.bi) as tf.Tensor2D; // [R, 3H]
        let state: tf.Tensor2D;
        if (this.config.recurrence === 'fused') {
          const seq = gruSequence(
            tf.reshape(xProj, [rows, 1, 3 * h]) as tf.Tensor3D,
            tf.ones([rows, 1]) as tf.Tensor2D,
            layer.wh as tf.Tensor2D,
            layer.bh as tf.Tensor1D,
            {
              initialState: initialStates[li],
              reset: resetT,
            },
          );
          state = tf.reshape(seq, [rows, h]) as tf.Tensor2D;
        } else {
          const prev = tf.mul(initialStates[li], tf.sub(1, resetT)) as tf.Tensor2D;
          state = gruStepOps(xProj, prev, layer);
        }
        if (training && this.config.hiddenDropout > 0) state = tf.mul(state, dropoutMask(this.trainRng, state.shape, this.config.hiddenDropout)) as tf.Tensor2D;
        states.push(state);
        x = state;
      }
      const user = this.withBiasInput(this.projection ? (tf.matMul(x, this.projection) as tf.Tensor2D) : x);
      return { user, states };
    });
  }

  private assertSessionSteps(): void {
    if (this.parallelProjection) {
      throw new SeqrecError('invalid_config', "GRU4Rec: session-parallel steps are not implemented for featureArchitecture 'parallel'; train on windows", {
        field: 'featureArchitecture',
      });
    }
  }

  /** Runs one GRU layer over [B, L, in]; returns the last state and, if asked, all outputs. */
  private runLayer(
    layer: GRULayer,
    inputs: tf.Tensor3D,
    mask: tf.Tensor2D,
    stepMasks: tf.Tensor[],
    b: number,
    l: number,
    keepOutputs: boolean,
  ): { outputs: tf.Tensor3D | null; last: tf.Tensor2D } {
    const h = this.config.hiddenDim;
    const inDim = inputs.shape[2];
    // Input projections of all steps at once: [B*L, in] x [in, 3H], then time-major.
    const xProj = tf.reshape(tf.add(tf.matMul(tf.reshape(inputs, [b * l, inDim]), layer.wi), layer.bi), [b, l, 3 * h]);
    if (this.config.recurrence === 'fused') {
      const states = gruSequence(xProj as tf.Tensor3D, mask, layer.wh, layer.bh);
      const last = lastStep(states);
      return { outputs: keepOutputs ? states : null, last };
    }
    const xSteps = tf.unstack(tf.transpose(xProj, [1, 0, 2]));
    let state: tf.Tensor2D = tf.zeros([b, h]);
    const outputs: tf.Tensor2D[] = [];
    for (let t = 0; t < l; t++) {
      const candidate = gruStepOps(xSteps[t] as tf.Tensor2D, state, layer);
      // Padded steps keep the previous state.
      state = tf.add(state, tf.mul(stepMasks[t], tf.sub(candidate, state))) as tf.Tensor2D;
      if (keepOutputs) outputs.push(state);
    }
    return { outputs: keepOutputs ? (tf.stack(outputs, 1) as tf.Tensor3D) : null, last: state };
  }
}

/** One GRU step composed of TF.js ops (the reference the fused op is tested against). */
function gruStepOps(xProj: tf.Tensor2D, state: tf.Tensor2D, layer: GRULayer): tf.Tensor2D {
  const hProj = tf.add(tf.matMul(state, layer.wh), layer.bh);
  const [xr, xz, xn] = tf.split(xProj, 3, 1);
  const [hr, hz, hn] = tf.split(hProj, 3, 1);
  const r = tf.sigmoid(tf.add(xr, hr));
  const z = tf.sigmoid(tf.add(xz, hz));
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
  // (1 − z)·n + z·h  ==  n + z·(h − n)
  return tf.add(n, tf.mul(z, tf.sub(state, n))) as tf.Tensor2D;
}
