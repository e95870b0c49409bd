/**
 * A small training loop: Adam, per-epoch evaluation on the valid users, early stopping on a
 * monitored metric with patience, best weights restored at the end, optional checkpoints.
 * Variation goes through options and callbacks, not subclasses.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceDataset } from '../data/dataset.js';
import { SeqrecError } from '../errors.js';
import { lossSplitsAcrossWorkers, resolveLoss, type LossName } from '../losses/index.js';
import type { LossFunction } from '../losses/types.js';
import type { MetricKey, MetricReport } from '../metrics/index.js';
import type { BaseRecaller } from '../models/base.js';
import { MODELS } from '../models/registry.js';
import { assertWritableModelDir } from '../bundle/atomic-dir.js';
import { saveModel } from '../bundle/checkpoint.js';
import { DataParallelGradients } from './parallel.js';
import { evaluateModel, type EvaluationOptions } from './evaluate.js';
import { AdamStep, checkLearningRate, nonFiniteWeight, resolveItemGradients, type ItemGradients } from './step.js';

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  steps: number;
  samples: number;
  /** Wall seconds of the training part (batching, forward, backward, Adam). */
  trainSeconds: number;
  samplesPerSecond: number;
  /** Wall seconds of the validation pass. */
  evalSeconds: number;
  valid: MetricReport;
  /** Whether this epoch improved the monitored metric. */
  improved: boolean;
}

export interface TrainerCallbacks {
  onEpochEnd?(record: EpochRecord): void | Promise<void>;
  onBatchEnd?(step: number, loss: number): void;
}

export interface TrainerOptions {
  /** Adam learning rate. Default 1e-3. */
  learningRate?: number;
  /** Training batch size. Default 256. */
  batchSize?: number;
  /** Maximum epochs. Default 30. */
  epochs?: number;
  /** Epochs without improvement before stopping. Default 5. */
  patience?: number;
  /** Metric of the valid split to maximise. Default 'recall@50'. */
  monitor?: MetricKey;
  /** Loss by name or function. Default 'softmax' (full softmax cross-entropy). */
  loss?: LossName | LossFunction;
  /** Evaluation settings (cutoffs, similarity). */
  evaluation?: EvaluationOptions;
  /**
   * Save the best model here (with the dataset's vocabulary) whenever it improves, each time
   * as a new atomic version (src/bundle/atomic-dir.ts; the previous one is kept).
   */
  checkpointDir?: string;
  /**
   * Split each batch over this many cores (worker threads, see src/train/parallel.ts).
   * 'auto' (default) is 1 = single-threaded: on the 2-core machines seqrec is benchmarked on,
   * 2 parts gave 1.2-1.4x for MIND and YouTubeDNN but made GRU4Rec slower (0.67x; see
   * docs/benchmarks.md), so the gain has to be measured per model and machine. Results are
   * reproducible for a fixed number of parts.
   */
  parallelism?: number | 'auto';
  /**
   * How the item table's gradient is kept: 'dense' (one more Adam variable), 'sparse' (only
   * the rows a batch touches, row-wise Adam: step cost independent of the item count) or
   * 'auto' (default: sparse for sampled losses, dense for full softmax). See src/train/step.ts.
   */
  itemGradients?: ItemGradients;
  /** Progress lines; default: none. Pass `console.error` or a logger. */
  log?: (line: string) => void;
  callbacks?: TrainerCallbacks;
}

export interface FitResult {
  history: EpochRecord[];
  bestEpoch: number;
  bestValid: MetricReport;
  stoppedBy: 'early_stopping' | 'max_epochs';
  seconds: number;
}

export class Trainer {
  readonly model: BaseRecaller;
  private readonly options: Required<Omit<TrainerOptions, 'checkpointDir' | 'log' | 'callbacks' | 'evaluation' | 'parallelism' | 'itemGradients'>> &
    Pick<TrainerOptions, 'parallelism' | 'itemGradients'> &
    Pick<TrainerOptions, 'checkpointDir' | 'log' | 'callbacks' | 'evaluation'>;
  private readonly lossFn: LossFunction;

  constructor(model: BaseRecaller, options: TrainerOptions = {}) {
    this.model = model;
    this.options = {
      learningRate: 1e-3,
      batchSize: 256,
      epochs: 30,
      patience: 5,
      monitor: 'recall@50',
      loss: 'softmax',
      ...options,
    };
    const o = this.options;
    const positiveInt = (v: number, name: string) => {
      if (!Number.isInteger(v) || v < 1) throw new SeqrecError('invalid_config', `Trainer: ${name} must be an integer >= 1, got ${v}`, { field: name });
    };
    positiveInt(o.batchSize, 'batchSize');
    positiveInt(o.epochs, 'epochs');
    positiveInt(o.patience, 'patience');
    checkLearningRate(o.learningRate, 'Trainer: ');
    this.lossFn = resolveLoss(o.loss);
    this.resolveParallelism(); // validates the option now rather than at fit()
    resolveItemGradients(o.itemGradients ?? 'auto', o.loss);
  }

  /** Number of batch parts (1 = single-threaded), from the `parallelism` option. */
  resolveParallelism(): number {
    const p = this.options.parallelism ?? 'auto';
    if (p === 'auto') return 1;
    if (!Number.isInteger(p) || p < 1) throw new SeqrecError('invalid_config', `Trainer: parallelism must be 'auto' or an integer >= 1, got ${p}`, { field: 'parallelism' });
    if (p > 1 && !replicable(this.model)) {
      throw new SeqrecError('invalid_config', `Trainer: parallelism > 1 needs a model from the registry (${Object.keys(MODELS).join(', ')}); worker threads rebuild it by name. Use parallelism: 1 for '${this.model.name}'.`, { field: 'parallelism' });
    }
    if (p > 1 && !lossSplitsAcrossWorkers(this.options.loss)) {
      throw new SeqrecError('invalid_config', "Trainer: parallelism > 1 needs a full-softmax loss given by name (a function cannot be sent to worker threads; sampled losses draw their negatives over the whole batch)", { field: 'parallelism' });
    }
    return p;
  }

  /** Trains on the dataset's training samples, validating after every epoch. */
  async fit(dataset: SequenceDataset): Promise<FitResult> {
    const o = this.options;
    const model = this.model;
    if (dataset.itemCount !== model.itemCount) {
      throw new SeqrecError('shape_mismatch', `dataset has ${dataset.itemCount} item rows (with padding), the model ${model.itemCount}`);
    }
    // Training needs samples and early stopping valid users: say so before any epoch runs.
    dataset.assertSplits(['train', 'valid']);
    // Losses whose negatives depend on the data (popularity samplers, logQ) are bound to it here.
    const lossFn = resolveLoss(this.lossFn, { itemCount: dataset.itemCount, itemPopularity: dataset.itemPopularity() });
    const parts = this.resolveParallelism();
    const itemGradients = resolveItemGradients(o.itemGradients ?? 'auto', o.loss);
    if (parts > 1 && itemGradients === 'sparse') {
      throw new SeqrecError('invalid_config', "Trainer: parallelism > 1 needs itemGradients 'dense' (worker gradients are summed as dense tensors)", { field: 'itemGradients' });
    }
    // A foreign non-empty checkpointDir is refused now, not after the first epoch.
    if (o.checkpointDir) await assertWritableModelDir(o.checkpointDir);
    const optimizer = new AdamStep(model, lossFn, { learningRate: o.learningRate, itemGradients });
    const parallel = parts > 1 ? await DataParallelGradients.start(model, o.loss as string, parts) : null;
    const started = performance.now();
    const history: EpochRecord[] = [];
    let best = -Infinity;
    let bestEpoch = 0;
    let bestValid: MetricReport = {};
    let bestWeights: Map<string, { shape: number[]; data: Float32Array }> | null = null;
    // Where a failed fit leaves the model until an epoch improves: the weights it started from.
    let initialWeights: Map<string, { shape: number[]; data: Float32Array }> | null = snapshot(model);
    const diverged = (what: string): SeqrecError =>
      new SeqrecError(
        'diverged',
        `${what}: training diverged. The model keeps ${bestEpoch ? `its best weights (epoch ${bestEpoch})` : 'the weights it started from'}; ` +
          `lower the learning rate (now ${o.learningRate})`,
        { field: 'learningRate' },
      );
    let stale = 0;
    let stoppedBy: FitResult['stoppedBy'] = 'max_epochs';
    let step = 0;
    try {
      for (let epoch = 1; epoch <= o.epochs; epoch++) {
        const t0 = performance.now();
        let lossSum = 0;
        let steps = 0;
        let samples = 0;
        for (const batch of dataset.trainBatches(epoch, o.batchSize)) {
          let value: number;
          if (parallel && batch.batchSize >= parallel.parts) {
            const { loss, grads } = await parallel.compute(batch, lossFn);
            optimizer.applyGradients(grads);
            tf.dispose(Object.values(grads));
            parallel.publishWeights();
            value = loss;
          } else {
            value = optimizer.run(batch);
            parallel?.publishWeights();
          }
          if (!Number.isFinite(value)) throw diverged(`loss became ${value} at epoch ${epoch}, step ${steps + 1}`);
          lossSum += value;
          steps++;
          step++;
          samples += batch.batchSize;
          o.callbacks?.onBatchEnd?.(step, value);
        }
        const trainSeconds = (performance.now() - t0) / 1000;
        // A finite loss does not prove finite weights (an overflow in a row no loss read yet).
        const named = model.namedWeights();
        const bad = nonFiniteWeight(named.map((w) => w.variable));
        if (bad >= 0) throw diverged(`weight '${named[bad].name}' has non-finite values after epoch ${epoch}`);
        const t1 = performance.now();
        const valid = evaluateModel(model, dataset, 'valid', o.evaluation);
        const evalSeconds = (performance.now() - t1) / 1000;
        const score = valid[o.monitor];
        if (score === undefined) {
          throw new SeqrecError('invalid_config', `Trainer: monitor '${o.monitor}' is not a reported metric (${Object.keys(valid).join(', ')})`, { field: 'monitor' });
        }
        const improved = score > best;
        const record: EpochRecord = {
          epoch,
          loss: steps ? lossSum / steps : NaN,
          steps,
          samples,
          trainSeconds,
          samplesPerSecond: samples / trainSeconds,
          evalSeconds,
          valid,
          improved,
        };
        history.push(record);
        o.log?.(formatEpoch(record, o.monitor));
        if (improved) {
          best = score;
          bestEpoch = epoch;
          bestValid = valid;
          stale = 0;
          bestWeights = snapshot(model);
          initialWeights = null;
          if (o.checkpointDir) await saveModel(model, o.checkpointDir, { vocabulary: dataset.vocabulary, meta: { epoch, valid } });
        } else {
          stale++;
        }
        await o.callbacks?.onEpochEnd?.(record);
        // Let timers and I/O run between epochs (progress output, signals).
        await new Promise((r) => setImmediate(r));
        if (stale >= o.patience) {
          stoppedBy = 'early_stopping';
          break;
        }
      }
    } catch (e) {
      // Whatever stopped training, never leave half-trained (maybe NaN) weights behind.
      model.setNamedWeights((bestWeights ?? initialWeights)!);
      throw e;
    } finally {
      optimizer.dispose();
      await parallel?.close();
    }
    if (bestWeights) model.setNamedWeights(bestWeights);
    return { history, bestEpoch, bestValid, stoppedBy, seconds: (performance.now() - started) / 1000 };
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

function snapshot(model: BaseRecaller): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name, variable } of model.namedWeights()) {
    out.set(name, { shape: variable.shape.slice(), data: (variable.dataSync() as Float32Array).slice() });
  }
  return out;
}

export function formatEpoch(r: EpochRecord, monitor: string): string {
  const metrics = (['recall@20', 'recall@50', 'ndcg@50', 'hitRate@50'] as const)
    .filter((k) => k in r.valid)
    .map((k) => `${k} ${r.valid[k].toFixed(4)}`)
    .join('  ');
  return (
    `epoch ${String(r.epoch).padStart(3)}  loss ${r.loss.toFixed(4)}  ${Math.round(r.samplesPerSecond)} samples/s  ` +
    `${r.trainSeconds.toFixed(1)}s+${r.evalSeconds.toFixed(1)}s  valid ${metrics}${r.improved ? `  * best ${monitor}` : ''}`
  );
}
