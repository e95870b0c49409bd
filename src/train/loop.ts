/**
 * The one training loop, for windowed and session-parallel training alike: a batch source
 * yields each epoch's batches, a step strategy turns a batch into one optimiser update and its
 * loss, and the mode decides what happens at an epoch's end (evaluation, early stopping).
 * The loop owns what both modes share: the divergence guard (a non-finite loss or weight
 * raises `diverged`), the rollback of the weights to the last kept epoch whenever training
 * throws, callbacks, timing and the progress line.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';
import { readFloats } from '../backend/memory.js';

export interface BatchSource<B> {
  /** The batches of epoch `epoch` (1-based). */
  batches(epoch: number): Iterable<B>;
  /** Rows (samples, events) a batch trains on. */
  rows(batch: B): number;
}

/** One optimiser update on a batch; returns its loss. A non-finite loss must leave the weights as they were where it can. */
export interface TrainStep<B> {
  run(batch: B): number | Promise<number>;
  dispose(): void | Promise<void>;
}

/** What an epoch's training did, before the mode evaluates it. */
export interface EpochStats {
  epoch: number;
  /** Mean loss: over batches ('batch') or over rows ('row'), see `LoopSpec.lossMean`. */
  loss: number;
  steps: number;
  rows: number;
  trainSeconds: number;
}

export interface EpochVerdict<R> {
  record: R;
  /** Keep this epoch's weights as the ones to fall back to (and to end with). */
  keep: boolean;
  /** Stop after this epoch. */
  stop?: boolean;
}

export interface LoopSpec<B, R> {
  source: BatchSource<B>;
  step: TrainStep<B>;
  epochs: number;
  maxStepsPerEpoch?: number;
  /** 'batch': the epoch loss is the mean of the batch losses; 'row': weighted by the batches' rows. */
  lossMean: 'batch' | 'row';
  /** The weights to check, keep and restore, with the names errors report. */
  weights(): { name: string; variable: tf.Variable }[];
  /** For the divergence message. */
  learningRate: number;
  /** How the message names the kept weights of epoch `e` ("its best weights (epoch 3)"). */
  keptLabel(epoch: number): string;
  endEpoch(stats: EpochStats): Promise<EpochVerdict<R>> | EpochVerdict<R>;
  /** After a kept epoch's weights are snapshotted (checkpoints). */
  onKeep?(record: R): Promise<void> | void;
  format(record: R): string;
  log?: (line: string) => void;
  onBatchEnd?: (step: number, loss: number, rows: number) => void;
  onEpochEnd?: (record: R) => void | Promise<void>;
  /** Stop at the end of the first epoch that ends this many seconds after the start. */
  maxSeconds?: number;
  /** Stop when it aborts: between batches (the epoch under way is dropped) or after an epoch. */
  signal?: AbortSignal;
}

/** Why training ended: an epoch verdict (early stopping), `epochs` done, `maxSeconds`, `signal`. */
export type StopReason = 'verdict' | 'epochs' | 'time_limit' | 'interrupted';

export interface LoopResult<R> {
  history: R[];
  /** The epoch whose weights the model ends with (0: the ones it started from). */
  keptEpoch: number;
  stoppedBy: StopReason;
}

/**
 * The index of the first variable holding a NaN or infinity, or -1. Reads the values in
 * place (no copy), so checking every weight once an epoch costs one pass over them.
 */
export function nonFiniteWeight(variables: readonly tf.Variable[]): number {
  for (let i = 0; i < variables.length; i++) {
    const values = readFloats(variables[i]);
    // x - x is 0 for every finite x and NaN for NaN and ±Infinity.
    for (let j = 0; j < values.length; j++) if (values[j] - values[j] !== 0) return i;
  }
  return -1;
}

type Snapshot = { variable: tf.Variable; data: Float32Array }[];

function snapshot(weights: { variable: tf.Variable }[]): Snapshot {
  return weights.map(({ variable }) => ({ variable, data: (variable.dataSync() as Float32Array).slice() }));
}

function restore(s: Snapshot): void {
  for (const { variable, data } of s) tf.tidy(() => variable.assign(tf.tensor(data, variable.shape, 'float32')));
}

export async function runTrainingLoop<B, R>(spec: LoopSpec<B, R>): Promise<LoopResult<R>> {
  const history: R[] = [];
  // Where a failed fit leaves the model: the last kept epoch, else the weights it started from.
  let kept = snapshot(spec.weights());
  let keptEpoch = 0;
  let lastEpoch = 0;
  let stoppedBy: StopReason = 'epochs';
  const started = performance.now();
  const diverged = (what: string): SeqrecError =>
    new SeqrecError(
      'diverged',
      `${what}: training diverged. The model keeps ${keptEpoch ? spec.keptLabel(keptEpoch) : 'the weights it started from'}; lower the learning rate (now ${spec.learningRate})`,
      { field: 'learningRate' },
    );
  let step = 0;
  try {
    for (let epoch = 1; epoch <= spec.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let steps = 0;
      let rows = 0;
      for (const batch of spec.source.batches(epoch)) {
        if (spec.maxStepsPerEpoch !== undefined && steps >= spec.maxStepsPerEpoch) break;
        if (spec.signal) {
          // A step never waits on I/O, so a signal handler (SIGINT) runs only when the loop yields.
          await new Promise((r) => setImmediate(r));
          if (spec.signal.aborted) break;
        }
        const value = await spec.step.run(batch);
        if (!Number.isFinite(value)) throw diverged(`loss became ${value} at epoch ${epoch}, step ${steps + 1}`);
        const n = spec.source.rows(batch);
        lossSum += spec.lossMean === 'row' ? value * n : value;
        rows += n;
        steps++;
        step++;
        spec.onBatchEnd?.(step, value, n);
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      if (spec.signal?.aborted) {
        // A part of an epoch is not one: back to the last kept weights, without an epoch record.
        restore(kept);
        lastEpoch = keptEpoch;
        stoppedBy = 'interrupted';
        break;
      }
      // A finite loss does not prove finite weights (an overflow in a row no loss read yet).
      const named = spec.weights();
      const bad = nonFiniteWeight(named.map((w) => w.variable));
      if (bad >= 0) throw diverged(`weight '${named[bad].name}' has non-finite values after epoch ${epoch}`);
      const denominator = spec.lossMean === 'row' ? rows : steps;
      const verdict = await spec.endEpoch({ epoch, loss: denominator ? lossSum / denominator : NaN, steps, rows, trainSeconds });
      history.push(verdict.record);
      lastEpoch = epoch;
      spec.log?.(spec.format(verdict.record));
      if (verdict.keep) {
        kept = snapshot(named);
        keptEpoch = epoch;
        await spec.onKeep?.(verdict.record);
      }
      await spec.onEpochEnd?.(verdict.record);
      // Let timers and I/O run between epochs (progress output, signals).
      await new Promise((r) => setImmediate(r));
      if (verdict.stop) stoppedBy = 'verdict';
      else if (spec.signal?.aborted) stoppedBy = 'interrupted';
      else if (spec.maxSeconds !== undefined && (performance.now() - started) / 1000 >= spec.maxSeconds && epoch < spec.epochs) stoppedBy = 'time_limit';
      if (stoppedBy !== 'epochs') break;
    }
  } catch (e) {
    // Whatever stopped training, never leave half-trained (maybe NaN) weights behind.
    restore(kept);
    throw e;
  } finally {
    await spec.step.dispose();
  }
  // End with the kept weights (a windowed fit's best epoch); a no-op when the last epoch was kept.
  if (keptEpoch > 0 && keptEpoch < lastEpoch) restore(kept);
  return { history, keptEpoch, stoppedBy };
}
