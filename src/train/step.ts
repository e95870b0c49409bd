/**
 * One optimisation step of a model under a loss: forward, backward and Adam. The Trainer runs
 * it every batch; benchmarks call it directly.
 *
 * Item gradients come in two kinds:
 * - 'dense': the item table is one more variable of dense Adam (FusedAdam: `tf.train.adam`'s
 *   arithmetic in one pass per variable, native where the addon is loaded), the optimizer ComiRec's
 *   TF1 `AdamOptimizer` is: every step decays every row's moments and moves every row whose
 *   first moment is nonzero. Needed when the loss scores every item.
 * - 'sparse': the table's gradient is kept as (rows touched, their gradients) and the table is
 *   updated by row-wise ("lazy") Adam; step time and memory then depend on the rows a batch
 *   touches (history, targets, drawn negatives), not on the item count. This is a different
 *   optimizer, not an approximation: an untouched row neither moves nor decays its moments, so
 *   a long-tail item seen every k-th step gets one update per visit where dense Adam keeps
 *   moving it by its decaying momentum in between (by arithmetic up to ~1/(1 − β1) = 10 times
 *   the displacement per visit; not measured), and its bias correction uses the global step.
 *   It is what makes million-item catalogues trainable (TF Addons' LazyAdam, PyTorch's SparseAdam).
 * - 'auto' (default): dense for full softmax, for 'comirec-sampled' (ComiRec's reproduction
 *   loss: its TF1 AdamOptimizer is dense, and on amazon-beauty dense and row-wise Adam reached
 *   the same recall@50 at the same speed, docs/benchmarks.md "dense and with row-wise Adam")
 *   and for loss functions seqrec does not know; sparse for every other sampled loss, where the
 *   catalogue may be large. `itemGradients: 'sparse'` gives row-wise Adam for 'comirec-sampled' too.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainBatch } from '../data/types.js';
import { SeqrecError } from '../errors.js';
import { isContextualLoss, type LossName } from '../losses/index.js';
import type { LossFunction } from '../losses/types.js';
import type { BaseRecaller, TrainingTargets } from '../models/base.js';
import { RowGradientCapture } from '../ops/embedding.js';
import type { OptimizerState } from '../bundle/optimizer-state.js';
import { FusedAdam } from './fused-adam.js';
import { captureAdamState, restoreAdamState, type AdamParts, type OptimizerRestore } from './optimizer-state.js';
import { RowSparseAdam } from './row-adam.js';

export type ItemGradients = 'auto' | 'dense' | 'sparse';

/** What 'auto' means for this loss (see the module comment). */
export function resolveItemGradients(mode: ItemGradients, loss: LossName | LossFunction): 'dense' | 'sparse' {
  if (mode !== 'auto' && mode !== 'dense' && mode !== 'sparse') {
    throw new SeqrecError('invalid_config', `itemGradients must be 'auto', 'dense' or 'sparse', got '${String(mode)}'`, { field: 'itemGradients' });
  }
  if (mode !== 'auto') return mode;
  const name = typeof loss === 'string' ? loss : isContextualLoss(loss) ? loss.lossName : undefined;
  return name === undefined || name === 'softmax' || name === 'comirec-sampled' ? 'dense' : 'sparse';
}

/** An optimiser applied to a loss closure: one update, returns the loss value. */
export interface Minimizer {
  minimize(f: () => tf.Scalar): number;
  dispose(): void;
}

/** Adam over `variables`, with the item table `table` dense or row-sparse (see the module comment). */
export class AdamMinimizer implements Minimizer {
  private readonly optimizer: FusedAdam;
  private readonly denseVariables: tf.Variable[];
  private readonly capture: RowGradientCapture | null = null;
  private readonly tableAdam: RowSparseAdam | null = null;
  private readonly table: tf.Tensor2D;

  constructor(variables: tf.Variable[], table: tf.Tensor2D, options: { learningRate: number; itemGradients: 'dense' | 'sparse'; modelName?: string }) {
    this.optimizer = new FusedAdam(options.learningRate);
    this.table = table;
    if (options.itemGradients === 'sparse') {
      if (!(table instanceof tf.Variable) || !variables.includes(table)) {
        throw new SeqrecError(
          'invalid_config',
          `${options.modelName ?? 'model'}: row-sparse item gradients need the item table to be one of the model's variables`,
          { field: 'itemGradients' },
        );
      }
      this.capture = new RowGradientCapture(table as tf.Variable<tf.Rank.R2>);
      this.tableAdam = new RowSparseAdam(table as tf.Variable<tf.Rank.R2>, options.learningRate);
      this.denseVariables = variables.filter((v) => v !== table);
    } else {
      this.denseVariables = variables;
    }
  }

  minimize(f: () => tf.Scalar): number {
    if (!this.capture) {
      const cost = this.optimizer.minimize(f, true, this.denseVariables)!;
      const value = cost.dataSync()[0];
      cost.dispose();
      return value;
    }
    const { value, grads, rows } = this.capture.gradients(f, this.denseVariables);
    const loss = value.dataSync()[0];
    value.dispose();
    // A non-finite loss must leave the weights as they were (the Trainer reports it).
    if (Number.isFinite(loss)) {
      this.optimizer.applyGradients(grads);
      this.tableAdam!.apply(rows);
    }
    tf.dispose(Object.values(grads));
    return loss;
  }

  /** For the data-parallel path: apply gradients computed elsewhere (dense mode only). */
  applyGradients(grads: tf.NamedTensorMap): void {
    if (this.capture) throw new Error('AdamStep.applyGradients: only in dense mode');
    this.optimizer.applyGradients(grads);
  }

  private parts(): AdamParts {
    return { dense: this.optimizer, rows: this.tableAdam ? { adam: this.tableAdam, table: this.table as tf.Variable } : null };
  }

  /** Adam's state (copies), weights named by `named`; `itemRows`: the model's (see src/train/optimizer-state.ts). */
  exportState(named: readonly { name: string; variable: tf.Variable }[], itemRows: number): OptimizerState {
    return captureAdamState(this.parts(), named, itemRows);
  }

  /** Restores a saved state where it fits the model (new item rows at zero moments); says what it did. */
  restoreState(named: readonly { name: string; variable: tf.Variable }[], itemRows: number, state: OptimizerState | null): OptimizerRestore {
    return restoreAdamState(this.parts(), named, itemRows, state);
  }

  dispose(): void {
    this.optimizer.dispose();
    this.capture?.dispose();
  }
}

/**
 * Adam on a model's windowed batches: the Trainer's step; benchmarks call it directly. With
 * `targets: 'every'` a step trains the model's `sequenceLoss(batch, lossFn)` (every real position)
 * instead of `loss(batch, lossFn)` (the last one).
 */
export class AdamStep extends AdamMinimizer {
  private readonly targets: TrainingTargets;

  constructor(
    private readonly model: BaseRecaller,
    private readonly lossFn: LossFunction,
    options: { learningRate: number; itemGradients: 'dense' | 'sparse'; targets?: TrainingTargets },
  ) {
    // Feature vectors add a dense term to every item row, which row-wise Adam cannot train.
    if (options.itemGradients === 'sparse' && model.itemFeatureStrategy !== 'none') {
      throw new SeqrecError('invalid_config', `${model.name} takes item features, so its item gradients must be 'dense'`, { field: 'itemGradients' });
    }
    super(model.trainableVariables(), model.itemTableVariable(), { ...options, modelName: model.name });
    this.targets = options.targets ?? 'last';
    if (this.targets === 'every' && typeof model.sequenceLoss !== 'function') {
      throw new SeqrecError('invalid_config', `${model.name} does not train at every position (it has no sequenceLoss); use targets 'last'`, {
        field: 'targets',
      });
    }
  }

  /** Adam's state over the model's weights (copies). */
  exportModelState(): OptimizerState {
    return this.exportState(this.model.namedWeights(), this.model.itemCount);
  }

  /** Restores a state saved with a model of this config (maybe fewer item rows); see `restoreState`. */
  restoreModelState(state: OptimizerState | null): OptimizerRestore {
    return this.restoreState(this.model.namedWeights(), this.model.itemCount, state);
  }

  /** One step on `batch`; returns the loss value. */
  run(batch: TrainBatch): number {
    const model = this.model;
    return this.minimize(this.targets === 'every' ? () => model.sequenceLoss!(batch, this.lossFn) : () => model.loss(batch, this.lossFn));
  }
}
