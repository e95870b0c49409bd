/**
 * The Trainer: one training loop (src/train/loop.ts) for both modes.
 * - `fit(dataset)`: windowed training on a SequenceDataset with Adam, per-epoch evaluation on
 *   the valid users, early stopping on a monitored metric with patience, best weights restored
 *   at the end, optional checkpoints and data-parallel workers.
 * - `fitSessions(sessions)`: GRU4Rec's session-parallel mini-batches (one hidden state per
 *   lane, reset where a session ends, backprop truncated after every step) with Adam or the
 *   official Adagrad, optional evaluation after every epoch, no early stopping.
 * Both raise `diverged` on a non-finite loss or weight and leave the model with its last kept
 * weights. Variation goes through options and callbacks, not subclasses.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceDataset } from '../data/dataset.js';
import type { SessionSet } from '../data/session-parallel.js';
import type { TrainBatch } from '../data/types.js';
import { SeqrecError } from '../errors.js';
import { lossSplitsAcrossWorkers, resolveLoss } from '../losses/index.js';
import type { LossFunction } from '../losses/types.js';
import type { BaseRecaller, TrainingTargets } from '../models/base.js';
import { MODELS } from '../models/registry.js';
import { assertWritableModelDir } from '../bundle/atomic-dir.js';
import { saveModel } from '../bundle/checkpoint.js';
import { AdagradMomentum } from './adagrad.js';
import { evaluateModel } from './evaluate.js';
import { runTrainingLoop, type LoopSpec } from './loop.js';
import { loadWarmStart } from './warm-start.js';
import { parseSessionFitOptions, parseTrainerOptions, SESSION_ONLY, WINDOWED_ONLY, type SessionFitOptions, type TrainerOptions } from './options.js';
import { DataParallelGradients } from './parallel.js';
import { formatEpoch, type EpochRecord, type FitResult, type SessionEpochRecord, type SessionTrainResult, type TrainerCallbacks } from './records.js';
import { assertSessionsFit, evaluateSessionParallel, type SessionRecurrentModel } from './session-evaluate.js';
import { AdamMinimizer, AdamStep, resolveItemGradients, type Minimizer } from './step.js';
import { adagradMinimizer, sequenceSource, SessionLaneStep, sessionSource, windowSource, WindowStep, type LaneBatch } from './strategies.js';

export type { TrainerOptions } from './options.js';
export type { EpochRecord, FitResult, TrainerCallbacks } from './records.js';
export { formatEpoch } from './records.js';

/** A model either mode can train: windowed training needs a BaseRecaller, session-parallel a SessionRecurrentModel. */
export type TrainableModel = BaseRecaller | SessionRecurrentModel;

export class Trainer<M extends TrainableModel = BaseRecaller> {
  readonly model: M;
  private readonly options: TrainerOptions;

  constructor(model: M, options: TrainerOptions = {}) {
    this.model = model;
    this.options = parseTrainerOptions(options);
    if (isRecaller(model)) {
      this.resolveParallelism(); // validates the option now rather than at fit()
      resolveItemGradients(this.options.itemGradients ?? 'auto', this.options.loss ?? 'softmax');
      this.resolveTargets();
    }
    if (this.options.loss !== undefined) resolveLoss(this.options.loss); // an unknown name fails here
  }

  /** Number of batch parts (1 = single-threaded), from the `parallelism` option. */
  resolveParallelism(): number {
    const p = this.options.parallelism ?? 'auto';
    if (p === 'auto' || p === 1) return 1;
    const model = this.model;
    if (!isRecaller(model) || !replicable(model)) {
      throw new SeqrecError(
        'invalid_config',
        `Trainer: parallelism > 1 needs a model from the registry (${Object.keys(MODELS).join(', ')}); worker threads rebuild it by name. Use parallelism: 1 for '${isRecaller(model) ? model.name : 'this model'}'.`,
        { field: 'parallelism' },
      );
    }
    if (!lossSplitsAcrossWorkers(this.options.loss ?? 'softmax')) {
      throw new SeqrecError(
        'invalid_config',
        'Trainer: parallelism > 1 needs a full-softmax loss given by name (a function cannot be sent to worker threads; sampled losses draw their negatives over the whole batch)',
        { field: 'parallelism' },
      );
    }
    return p;
  }

  /**
   * The `targets` option for this model (default: the model's `defaultTargets`), checked
   * against the options every-position training cannot honour.
   */
  resolveTargets(): TrainingTargets {
    const model = this.model;
    if (!isRecaller(model)) return 'last';
    const o = this.options;
    const targets = o.targets ?? model.defaultTargets;
    if (targets === 'last') return targets;
    const refuseEvery = (field: keyof TrainerOptions, why: string): never => {
      throw new SeqrecError('invalid_config', `Trainer: targets 'every' ${why}; use targets: 'last' for this`, { field });
    };
    if (typeof model.sequenceLoss !== 'function') refuseEvery('targets', `needs a model with a sequenceLoss, and ${model.name} has none`);
    const p = o.parallelism ?? 'auto';
    if (p !== 'auto' && p !== 1) refuseEvery('parallelism', 'runs on one thread (parallelism 1)');
    // Full softmax scores every item; sampled losses at every position train row-sparse as well.
    if (o.itemGradients === 'sparse' && (o.loss ?? 'softmax') === 'softmax') {
      refuseEvery('itemGradients', "scores every item at every position with full softmax, so its item gradients are 'dense' (a sampled loss can be sparse)");
    }
    return targets;
  }

  /** Trains on the dataset's training windows, validating after every epoch. */
  async fit(this: Trainer<BaseRecaller>, dataset: SequenceDataset): Promise<FitResult> {
    const o = this.options;
    refuse(o, SESSION_ONLY, 'fitSessions (session-parallel training)');
    const model = this.model;
    if (dataset.itemCount !== model.itemCount) {
      throw new SeqrecError('shape_mismatch', `dataset has ${dataset.itemCount} item rows (with padding), the model ${model.itemCount}`);
    }
    // Training needs samples and early stopping valid users: say so before any epoch runs.
    dataset.assertSplits(['train', 'valid']);
    const loss = o.loss ?? 'softmax';
    const monitor = o.monitor ?? 'recall@50';
    const patience = o.patience ?? 5;
    const learningRate = o.learningRate ?? 1e-3;
    // Losses whose negatives depend on the data (popularity samplers, logQ) are bound to it here.
    const lossFn = resolveLoss(loss, { itemCount: dataset.itemCount, itemPopularity: o.itemPopularity ?? dataset.itemPopularity() });
    const parts = this.resolveParallelism();
    const itemGradients =
      model.itemFeatureStrategy === 'none' ? resolveItemGradients(o.itemGradients ?? 'auto', loss) : featureGradients(o.itemGradients, parts);
    if (parts > 1 && itemGradients === 'sparse') {
      throw new SeqrecError('invalid_config', "Trainer: parallelism > 1 needs itemGradients 'dense' (worker gradients are summed as dense tensors)", {
        field: 'itemGradients',
      });
    }
    // A foreign non-empty checkpointDir is refused now, not after the first epoch.
    if (o.checkpointDir) await assertWritableModelDir(o.checkpointDir);
    const loaded = o.from !== undefined ? await loadWarmStart(model, dataset, o.from, o.newRows) : undefined;
    const warm = loaded?.report;
    if (warm) {
      o.log?.(
        `warm start from ${o.from}: ${warm.parentItems} items kept with their rows, ${warm.newItems} new` +
          (warm.newRows === 'cooccurrence' ? ` (${warm.seededItems} seeded from co-occurring items, the rest at init)` : ' (at init)'),
      );
    }
    const targets = this.resolveTargets();
    const optimizer = new AdamStep(model, lossFn, { learningRate, itemGradients, targets });
    if (loaded && warm) {
      warm.optimizer = optimizer.restoreModelState(loaded.optimizerState);
      o.log?.(`warm start from ${o.from}: ${warm.optimizer.note}`);
    }
    // Adam's state with the kept weights (the start's until an epoch is kept).
    let keptOptimizer = o.saveOptimizerState ? optimizer.exportModelState() : undefined;
    const parallel = parts > 1 ? await DataParallelGradients.start(model, loss as string, parts) : null;
    const started = performance.now();
    let best = -Infinity;
    let bestEpoch = 0;
    let bestValid: FitResult['bestValid'] = {};
    let stale = 0;
    const { history, stoppedBy } = await runTrainingLoop<TrainBatch, EpochRecord>({
      source: targets === 'every' ? sequenceSource(dataset, o.batchSize ?? 256) : windowSource(dataset, o.batchSize ?? 256),
      step: new WindowStep(optimizer, lossFn, parallel),
      epochs: o.epochs ?? 30,
      maxStepsPerEpoch: o.maxStepsPerEpoch,
      lossMean: 'batch',
      weights: () => model.namedWeights(),
      learningRate,
      keptLabel: (e) => `its best weights (epoch ${e})`,
      endEpoch: (stats) => {
        const t1 = performance.now();
        const valid = evaluateModel(model, dataset, 'valid', o.evaluation);
        const evalSeconds = (performance.now() - t1) / 1000;
        const score = valid[monitor];
        if (score === undefined) {
          throw new SeqrecError('invalid_config', `Trainer: monitor '${monitor}' is not a reported metric (${Object.keys(valid).join(', ')})`, {
            field: 'monitor',
          });
        }
        const improved = score > best;
        if (improved) {
          [best, bestEpoch, bestValid, stale] = [score, stats.epoch, valid, 0];
        } else {
          stale++;
        }
        const record: EpochRecord = {
          epoch: stats.epoch,
          loss: stats.loss,
          steps: stats.steps,
          samples: stats.rows,
          trainSeconds: stats.trainSeconds,
          samplesPerSecond: stats.rows / stats.trainSeconds,
          evalSeconds,
          valid,
          improved,
        };
        return { record, keep: improved, stop: stale >= patience };
      },
      onKeep: async (record) => {
        if (o.saveOptimizerState) keptOptimizer = optimizer.exportModelState();
        if (o.checkpointDir) {
          await saveModel(model, o.checkpointDir, {
            vocabulary: dataset.vocabulary,
            meta: { epoch: record.epoch, valid: record.valid },
            optimizerState: keptOptimizer,
          });
        }
      },
      format: (r) => formatEpoch(r, monitor),
      log: o.log,
      maxSeconds: o.maxSeconds,
      signal: o.signal,
      ...bound(o.callbacks),
    });
    return {
      ...(warm ? { warmStart: warm } : {}),
      history,
      bestEpoch,
      bestValid,
      stoppedBy: FIT_STOP[stoppedBy],
      seconds: (performance.now() - started) / 1000,
      ...(keptOptimizer ? { optimizerState: keptOptimizer } : {}),
    };
  }

  /** Trains with session-parallel mini-batches (GRU4Rec), evaluating after every epoch when `evaluation` is given. */
  async fitSessions(this: Trainer<SessionRecurrentModel>, sessions: SessionSet, fitOptions: SessionFitOptions = {}): Promise<SessionTrainResult> {
    const o = this.options;
    const f = parseSessionFitOptions(fitOptions);
    refuse(o, WINDOWED_ONLY, 'fit (windowed training)');
    const model = this.model;
    assertSessionsFit(model, sessions);
    if (model.itemFeatureStrategy !== 'none') {
      throw new SeqrecError('invalid_config', 'Trainer: session-parallel training does not support item features yet; train on windows (fit)', {
        field: 'itemFeatures',
      });
    }
    const optimizerName = o.optimizer ?? 'adam';
    const learningRate = o.learningRate ?? (optimizerName === 'adam' ? 1e-3 : 0.05);
    const batchSize = o.batchSize ?? 128;
    const lossFn: LossFunction = resolveLoss(o.loss ?? 'bpr-max', {
      itemCount: sessions.itemCount,
      itemPopularity: o.itemPopularity ?? sessions.itemPopularity(),
    });
    const variables = model.trainableVariables();
    const table = model.itemEmbeddings();
    const optimizer: Minimizer =
      optimizerName === 'adam'
        ? new AdamMinimizer(variables, table, { learningRate, itemGradients: 'dense' })
        : adagradMinimizer(
            new AdagradMomentum(learningRate, o.momentum ?? 0, table instanceof tf.Variable ? (table as tf.Variable<tf.Rank.R2>) : null),
            variables,
          );
    const started = performance.now();
    const evaluation = f.evaluation;
    const { history, stoppedBy } = await runTrainingLoop<LaneBatch, SessionEpochRecord>({
      source: sessionSource(sessions, batchSize, model.stateSizes()),
      step: new SessionLaneStep(model, lossFn, optimizer),
      epochs: o.epochs ?? 10,
      maxStepsPerEpoch: o.maxStepsPerEpoch,
      lossMean: 'row',
      weights: () => variables.map((variable) => ({ name: variable.name, variable })),
      learningRate,
      // No early stopping picks a best epoch: every finite epoch is kept.
      keptLabel: (e) => `its weights after epoch ${e}`,
      endEpoch: (stats) => {
        const record: SessionEpochRecord = { epoch: stats.epoch, loss: stats.loss, steps: stats.steps, events: stats.rows, seconds: stats.trainSeconds };
        if (evaluation) {
          const t1 = performance.now();
          record.eval = evaluateSessionParallel(model, evaluation.sessions, evaluation);
          record.evalSeconds = (performance.now() - t1) / 1000;
        }
        return { record, keep: true };
      },
      format: (r) => formatEpoch(r),
      log: o.log,
      maxSeconds: o.maxSeconds,
      signal: o.signal,
      ...bound<SessionEpochRecord>(f.callbacks),
    });
    return { history, stoppedBy: FIT_STOP[stoppedBy], seconds: (performance.now() - started) / 1000 };
  }
}

/** The loop's stop reasons as fit results name them. */
const FIT_STOP = { verdict: 'early_stopping', epochs: 'max_epochs', time_limit: 'time_limit', interrupted: 'interrupted' } as const;

/** The callbacks as the loop calls them, with `this` kept for callback objects with methods. */
function bound<R>(c: TrainerCallbacks<R> | undefined): Pick<LoopSpec<unknown, R>, 'onBatchEnd' | 'onEpochEnd'> {
  if (!c) return {};
  return {
    onBatchEnd: c.onBatchEnd ? (step, loss, rows) => c.onBatchEnd!(step, loss, rows) : undefined,
    onEpochEnd: c.onEpochEnd ? (record) => c.onEpochEnd!(record) : undefined,
  };
}

function isRecaller(model: TrainableModel): model is BaseRecaller {
  return typeof (model as BaseRecaller).namedWeights === 'function' && typeof (model as BaseRecaller).loss === 'function';
}

/** Options of the other mode are an error, not silently ignored. */
function refuse(o: TrainerOptions, keys: readonly (keyof TrainerOptions)[], mode: string): void {
  for (const k of keys) {
    if (o[k] !== undefined) throw new SeqrecError('invalid_config', `Trainer: option '${k}' applies to ${mode} only`, { field: k });
  }
}

/** Whether worker threads can rebuild this model: its name is registered and builds the same class. */
function replicable(model: BaseRecaller): boolean {
  const factory = (MODELS as Record<string, { create(c: { itemCount: number }): BaseRecaller }>)[model.name];
  if (!factory) return false;
  const probe = factory.create({ ...(model.getConfig() as { itemCount: number }) });
  const same = probe.constructor === model.constructor;
  probe.dispose();
  return same;
}

/**
 * Item gradients of a model with item features: dense unless 'sparse' is asked for (which
 * AdamStep refuses), in one process (workers do not carry the features).
 */
function featureGradients(mode: TrainerOptions['itemGradients'], parts: number): 'dense' | 'sparse' {
  if (parts > 1) throw new SeqrecError('invalid_config', 'Trainer: a model with item features trains in one process (parallelism 1)', { field: 'parallelism' });
  return mode === 'sparse' ? 'sparse' : 'dense';
}
