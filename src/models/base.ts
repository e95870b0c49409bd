/**
 * The one interface every seqrec model implements, and the shared parts (item table,
 * batch-to-tensor conversion, named weights).
 *
 * A model maps a batch of right-padded histories to user embeddings [batch, interests, dim]
 * that live in the same space as the item embeddings [itemCount, dim]; retrieval is inner
 * product between the two. Training scores a user vector against the item table with a loss
 * from src/losses.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../util/random.js';
import type { SequenceBatch, TrainBatch } from '../data/types.js';
import { SeqrecError } from '../errors.js';
import { softmaxCrossEntropy } from '../losses/softmax.js';
import type { LossFunction } from '../losses/types.js';
import { lossInput } from '../losses/input.js';
import { embeddingLookup } from '../ops/embedding.js';
import { nativeAddon } from '../backend/native.js';
import { tensorFilledBy } from '../backend/memory.js';
import { glorotUniform, variable } from './layers/init.js';
import type { ItemFeatureStrategy, ModelBaseConfig } from './config.js';
import type { ItemFeatures } from '../data/item-features.js';
import { featureMean, featureMeanRows } from '../ops/feature-mean.js';
import { readFloats } from '../backend/memory.js';

/** The tensors of a `SequenceBatch`. Owned by the caller's tidy scope. */
export interface BatchTensors {
  /** [B, L] int32 item indices. */
  history: tf.Tensor2D;
  /** [B, L] float32, 1 = real item. */
  mask: tf.Tensor2D;
  /** [B] int32 number of real items. */
  lengths: tf.Tensor1D;
}

export { ModelBaseConfigSchema, type ModelBaseConfig, type ModelBaseOptions } from './config.js';

export interface UserEmbeddingOptions {
  /** Training mode (dropout on, stochastic parts drawn from the training stream). Default false. */
  training?: boolean;
}

/**
 * The model contract used to be this separate interface; `BaseRecaller` is the one contract
 * now (every model extends it). Kept as an alias so existing imports still compile.
 * @deprecated Use `BaseRecaller`.
 */
export type SequentialRecaller = BaseRecaller;

/** Which positions of a training sequence are targets (the Trainer's `targets` option). */
export type TrainingTargets = 'last' | 'every';

let variableCounter = 0;

/**
 * What every model is, and the shared implementation: the item table, weights by name, batch
 * conversion and the training loss. Shared code (Trainer, evaluation, checkpoints, serving)
 * reads only these members, never the concrete class. Subclasses create their own variables
 * with `addWeight` and implement `userEmbeddings` and `getConfig`; `Config` is the type
 * `getConfig()` returns.
 */
export abstract class BaseRecaller<Config extends ModelBaseConfig = ModelBaseConfig> {
  /** Registry name, e.g. 'gru4rec'. */
  abstract readonly name: string;
  /** K: how many interest vectors `userEmbeddings` returns per user. */
  abstract readonly numInterests: number;
  readonly itemCount: number;
  readonly embeddingDim: number;
  readonly maxLen: number;
  /** Stream for weight initialisation (consumed in construction order). */
  protected readonly initRng: Random;
  /** Stream for training-time randomness (dropout, samplers). */
  readonly trainRng: Random;
  protected readonly itemTable: tf.Variable<tf.Rank.R2>;
  private readonly weights = new Map<string, tf.Variable>();
  /** The feature table [featureCount, width] when the model takes item features (`addFeatureBranch`). */
  private featureTable: tf.Variable<tf.Rank.R2> | null = null;
  private featureStrategy: ItemFeatureStrategy = 'none';
  private features: ItemFeatures | null = null;
  /** The last table `itemEmbeddings()` computed (models with item features only). */
  private scoringCache: tf.Tensor2D | null = null;
  /** Interleaving: training steps so far, and the branch held constant in the running step. */
  private featureSteps = 0;
  private frozenBranch: 'ids' | 'features' | null = null;

  protected constructor(base: ModelBaseConfig) {
    this.itemCount = base.itemCount;
    this.embeddingDim = base.embeddingDim;
    this.maxLen = base.maxLen;
    const root = new Random(base.seed);
    this.initRng = root.fork();
    this.trainRng = root.fork();
    // Glorot-uniform item table (TF's default, as in ComiRec and the peer); padding row zero.
    const values = glorotUniform(this.initRng, [base.itemCount, base.embeddingDim]);
    values.fill(0, 0, base.embeddingDim);
    this.itemTable = this.addWeight('item_embeddings', values, [base.itemCount, base.embeddingDim]) as tf.Variable<tf.Rank.R2>;
  }

  protected addWeight(name: string, values: Float32Array, shape: number[]): tf.Variable {
    if (this.weights.has(name)) throw new Error(`duplicate weight name ${name}`);
    // TF.js variable names are global: suffix a process-wide counter to keep them unique.
    const v = variable(values, shape, `${this.name}/${name}/${variableCounter++}`);
    this.weights.set(name, v);
    return v;
  }

  /** [B, K, D] user embeddings for a batch of histories. */
  abstract userEmbeddings(batch: SequenceBatch, options?: UserEmbeddingOptions): tf.Tensor3D;
  /** The resolved config (JSON-serialisable), enough to rebuild the model with `createModel`. */
  abstract getConfig(): Config;

  /**
   * [itemCount, D] item embeddings (row 0 = padding). Owned by the model: do not dispose. For
   * most models this is the `item_embeddings` variable itself. With item features it is the item
   * table plus each item's feature vector, computed from the current weights by this call and
   * valid until the next call (or `dispose`); copy it out (`dataSync`) to keep it.
   */
  itemEmbeddings(): tf.Tensor2D {
    if (!this.featureTable) return this.itemTable;
    const next = tf.tidy(() => this.scoringTable());
    this.scoringCache?.dispose();
    this.scoringCache = next;
    return next;
  }

  /** The `item_embeddings` variable (what checkpoints and bundles store item rows in). */
  itemTableVariable(): tf.Variable<tf.Rank.R2> {
    return this.itemTable;
  }

  /** Looks up item embeddings with a sparse (scatter-add) gradient. */
  protected embed(indices: tf.Tensor): tf.Tensor {
    return embeddingLookup(this.scoringTable(), indices);
  }

  /**
   * The table items are embedded and scored with, differentiable: the item table, plus (with
   * item features) the mean of each item's rows of the feature table. Interleaving training
   * holds one of the two constant in a step (`trainingPhase`). Call inside a tidy scope.
   */
  protected scoringTable(): tf.Tensor2D {
    if (!this.featureTable) return this.itemTable;
    const { ids, features } = this.itemRowParts();
    return tf.add(ids, features) as tf.Tensor2D;
  }

  /**
   * The two parts of the scoring table, each [itemCount, width]: `ids` the item table, `features`
   * each item's mean of its feature rows (models with item features only). The part interleaving
   * holds in the running step is a constant. Call inside a tidy scope.
   */
  protected itemRowParts(): { ids: tf.Tensor2D; features: tf.Tensor2D } {
    const featureTable = this.featureTable;
    const features = this.features;
    if (!featureTable || !features) {
      throw new SeqrecError(
        'invalid_config',
        featureTable
          ? `${this.name} was built with item features (${this.featureStrategy}) but none are attached; call setItemFeatures first`
          : `${this.name} was built without item features`,
        { field: 'itemFeatures' },
      );
    }
    const width = featureTable.shape[1];
    return {
      ids: this.unlessHeld('ids', this.itemTable),
      features:
        this.frozenBranch === 'features'
          ? tf.tensor2d(featureMeanRowsOf(readFloats(featureTable), features, width), [features.itemCount, width])
          : featureMean(featureTable, features),
    };
  }

  /**
   * `value`, or (when interleaving holds `branch` constant in the running step) a copy of it that
   * carries no gradient, so the weight and its optimizer moments stay as they are in that step.
   */
  protected unlessHeld<T extends tf.Tensor>(branch: 'ids' | 'features', value: T): T {
    return this.frozenBranch === branch ? (tf.tensor(readFloats(value).slice(), value.shape) as T) : value;
  }

  /**
   * Adds the feature table (zero-initialised, so an untrained feature branch leaves every item
   * vector as it was); subclasses that take item features call it after their other weights, so
   * those are initialised exactly as without features.
   */
  protected addFeatureBranch(strategy: ItemFeatureStrategy | undefined, featureCount: number | undefined): void {
    if (strategy === undefined || strategy === 'none') return;
    if (featureCount === undefined) {
      throw new SeqrecError('invalid_config', `${this.name}: featureCount is required with itemFeatures '${strategy}'`, { field: 'featureCount' });
    }
    const width = this.itemTable.shape[1];
    this.featureStrategy = strategy;
    this.featureTable = this.addWeight('feature_embeddings', new Float32Array(featureCount * width), [featureCount, width]) as tf.Variable<tf.Rank.R2>;
  }

  /** How this model uses item features ('none' for models built without them). */
  get itemFeatureStrategy(): ItemFeatureStrategy {
    return this.featureStrategy;
  }

  /** The attached item features, or null. */
  itemFeatures(): ItemFeatures | null {
    return this.features;
  }

  /** Attaches the item features (one row per item index, `featureCount` features) the model embeds and scores with. */
  setItemFeatures(features: ItemFeatures): void {
    if (!this.featureTable) {
      throw new SeqrecError('invalid_config', `${this.name} was built without item features; build it with itemFeatures 'simultaneous' or 'interleaving'`, {
        field: 'itemFeatures',
      });
    }
    if (features.itemCount !== this.itemCount) {
      throw new SeqrecError('shape_mismatch', `item features have ${features.itemCount} item rows, the model ${this.itemCount}`, { field: 'itemFeatures' });
    }
    if (features.featureCount > this.featureTable.shape[0]) {
      throw new SeqrecError('shape_mismatch', `item features have ${features.featureCount} features, the model's feature table ${this.featureTable.shape[0]}`, {
        field: 'featureCount',
      });
    }
    this.features = features;
  }

  /**
   * Runs one training step's loss `fn`. With interleaving, odd steps train the id part (the
   * feature table is a constant in that step) and even steps the feature part (the item table is
   * a constant); every other weight trains on every step. Otherwise just `fn()`.
   */
  protected trainingPhase<T>(fn: () => T): T {
    if (this.featureStrategy !== 'interleaving') return fn();
    this.featureSteps++;
    this.frozenBranch = this.featureSteps % 2 === 1 ? 'features' : 'ids';
    try {
      return fn();
    } finally {
      this.frozenBranch = null;
    }
  }

  protected toTensors(batch: SequenceBatch): BatchTensors {
    const { batchSize: b, maxLen: l } = batch;
    if (l !== this.maxLen && this.requiresExactLength) {
      throw new SeqrecError('shape_mismatch', `${this.name} was built for maxLen ${this.maxLen}, got a batch with maxLen ${l}`);
    }
    if (batch.history.length !== b * l || batch.mask.length !== b * l || batch.lengths.length !== b) {
      throw new SeqrecError('shape_mismatch', `batch arrays do not match batchSize ${b} x maxLen ${l}`);
    }
    return {
      history: tf.tensor2d(batch.history, [b, l], 'int32'),
      mask: tf.tensor2d(batch.mask, [b, l], 'float32'),
      lengths: tf.tensor1d(batch.lengths, 'int32'),
    };
  }

  /** Models whose parameters depend on the position (ComiRec-DR) need windows of exactly maxLen. */
  protected get requiresExactLength(): boolean {
    return false;
  }

  /**
   * The user vector each training row is scored with: [B, D]. Single-interest models use
   * their only interest; multi-interest models override this with label-aware attention.
   */
  protected trainingUserVector(userEmb: tf.Tensor3D, _targetEmb: tf.Tensor2D): tf.Tensor2D {
    return tf.squeeze(userEmb, [1]) as tf.Tensor2D;
  }

  /** Scalar training loss for a batch (default: full softmax cross-entropy). */
  loss(batch: TrainBatch, lossFn: LossFunction = softmaxCrossEntropy): tf.Scalar {
    return this.trainingPhase(() =>
      tf.tidy(() =>
        lossFn(
          lossInput(this.scoringTable(), batch.targets, this.trainRng, (targetEmbeddings) =>
            this.trainingUserVector(this.userEmbeddings(batch, { training: true }), targetEmbeddings),
          ),
        ),
      ),
    );
  }

  /**
   * What the Trainer trains this model on by default: 'last' (one target per window, `loss`)
   * or 'every' (a target at every real position, `sequenceLoss`). Default 'last'.
   */
  readonly defaultTargets: TrainingTargets = 'last';

  /**
   * Models that train at every position implement this: the scalar loss over every real
   * position of a batch (slot i predicts slot i + 1, the last real slot `targets[b]`), padding
   * excluded, under `lossFn` (default full softmax; the positions are its rows). The Trainer
   * calls it with `targets: 'every'`.
   */
  sequenceLoss?(batch: TrainBatch, lossFn?: LossFunction): tf.Scalar;

  /** Trainable variables, in a stable order. */
  trainableVariables(): tf.Variable[] {
    return [...this.weights.values()];
  }

  /** Weights by stable name (for checkpoints). */
  namedWeights(): { name: string; variable: tf.Variable }[] {
    return [...this.weights.entries()].map(([name, variable]) => ({ name, variable }));
  }

  /** Replaces weight values by name; every weight must be given with its exact shape. */
  setNamedWeights(values: Map<string, { shape: number[]; data: Float32Array }>): void {
    for (const [name, v] of this.weights) {
      const given = values.get(name);
      if (!given) throw new SeqrecError('bundle_invalid', `weight '${name}' is missing`);
      if (given.shape.join(',') !== v.shape.join(',')) {
        throw new SeqrecError('bundle_invalid', `weight '${name}' has shape [${given.shape}], the model expects [${v.shape}]`);
      }
    }
    for (const name of values.keys()) {
      if (!this.weights.has(name)) throw new SeqrecError('bundle_invalid', `unexpected weight '${name}' for model ${this.name}`);
    }
    for (const [name, v] of this.weights) {
      const given = values.get(name)!;
      tf.tidy(() => v.assign(tf.tensor(given.data, given.shape, 'float32')));
    }
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
    this.scoringCache?.dispose();
    this.scoringCache = null;
  }
}

function featureMeanRowsOf(table: Float32Array, features: ItemFeatures, width: number): Float32Array {
  const out = new Float32Array(features.itemCount * width);
  featureMeanRows(out, table, features, width);
  return out;
}

/**
 * Inverted dropout mask drawn from a seeded stream: values 0 or 1/(1-rate), one draw per element
 * (the native kernel where loaded, with the same bits), written straight into the tensor.
 */
export function dropoutMask(rng: Random, shape: number[], rate: number): tf.Tensor {
  const keep = 1 - rate;
  const addon = nativeAddon();
  return tensorFilledBy(shape, (out) => rng.fillBernoulli(out, keep, 1 / keep, addon?.bernoulli_fill));
}
