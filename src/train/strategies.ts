/**
 * The batch sources and step strategies the one training loop (src/train/loop.ts) runs:
 * windows of a SequenceDataset stepped by Adam (optionally data-parallel), and
 * session-parallel lanes of a SessionSet, with per-lane states carried and reset, stepped by
 * Adam or the official Adagrad.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceDataset } from '../data/dataset.js';
import { sessionParallelSteps, type SessionSet, type SessionStep } from '../data/session-parallel.js';
import type { TrainBatch } from '../data/types.js';
import { lossInput } from '../losses/input.js';
import type { LossFunction } from '../losses/types.js';
import type { AdagradMomentum } from './adagrad.js';
import type { BatchSource, TrainStep } from './loop.js';
import type { DataParallelGradients } from './parallel.js';
import { LaneStates, type SessionRecurrentModel } from './session-evaluate.js';
import type { AdamStep, Minimizer } from './step.js';

export function windowSource(dataset: SequenceDataset, batchSize: number): BatchSource<TrainBatch> {
  return { batches: (epoch) => dataset.trainBatches(epoch, batchSize), rows: (b) => b.batchSize };
}

/**
 * Every-position training (`targets: 'every'`): one row per train user; its rows are the
 * positions trained (every real slot is a target), so samples per second count targets.
 */
export function sequenceSource(dataset: SequenceDataset, batchSize: number): BatchSource<TrainBatch> {
  return {
    batches: (epoch) => dataset.trainSequenceBatches(epoch, batchSize),
    rows: (b) => {
      let n = 0;
      for (let r = 0; r < b.batchSize; r++) n += b.lengths[r];
      return n;
    },
  };
}

/** Adam on windowed batches; batches at least as large as the worker count are split across workers. */
export class WindowStep implements TrainStep<TrainBatch> {
  constructor(
    private readonly optimizer: AdamStep,
    private readonly lossFn: LossFunction,
    private readonly parallel: DataParallelGradients | null,
  ) {}

  async run(batch: TrainBatch): Promise<number> {
    const parallel = this.parallel;
    if (parallel && batch.batchSize >= parallel.parts) {
      const { loss, grads } = await parallel.compute(batch, this.lossFn);
      this.optimizer.applyGradients(grads);
      tf.dispose(Object.values(grads));
      parallel.publishWeights();
      return loss;
    }
    const value = this.optimizer.run(batch);
    parallel?.publishWeights();
    return value;
  }

  async dispose(): Promise<void> {
    this.optimizer.dispose();
    await this.parallel?.close();
  }
}

/** A session-parallel step together with the lane states it reads and updates. */
export interface LaneBatch {
  step: SessionStep;
  states: LaneStates;
}

/** Each epoch starts every lane from a zero state. */
export function sessionSource(sessions: SessionSet, batchSize: number, stateSizes: number[]): BatchSource<LaneBatch> {
  return {
    *batches() {
      const states = new LaneStates(batchSize, stateSizes);
      for (const step of sessionParallelSteps(sessions, batchSize)) yield { step, states };
    },
    rows: (b) => b.step.size,
  };
}

/**
 * One GRU step per mini-batch, backprop truncated after it (the initial states are the
 * previous step's states as constants, as the official GRU4Rec does): one loss over the
 * lanes' next items, one optimiser update, then the new states are carried.
 */
export class SessionLaneStep implements TrainStep<LaneBatch> {
  private readonly table: tf.Tensor2D;

  constructor(
    private readonly model: SessionRecurrentModel,
    private readonly lossFn: LossFunction,
    private readonly optimizer: Minimizer,
  ) {
    this.table = model.itemEmbeddings();
  }

  run({ step: s, states }: LaneBatch): number {
    const init = states.gather(s.lanes);
    let carried: tf.Tensor2D[] = [];
    const value = this.optimizer.minimize(() => {
      const out = this.model.sessionStep(s.inputs, init, s.reset, { training: true });
      carried = out.states.map((t) => tf.keep(t));
      return this.lossFn(lossInput(this.table, s.targets, this.model.trainRng, () => out.user));
    });
    states.scatter(s.lanes, carried);
    tf.dispose([...init, ...carried]);
    return value;
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** AdagradMomentum (whose `minimize` is shaped like TF.js's) as a `Minimizer` over `variables`. */
export function adagradMinimizer(optimizer: AdagradMomentum, variables: tf.Variable[]): Minimizer {
  return {
    minimize(f) {
      const cost = optimizer.minimize(f, true, variables);
      const value = cost.dataSync()[0];
      cost.dispose();
      return value;
    },
    dispose: () => optimizer.dispose(),
  };
}
