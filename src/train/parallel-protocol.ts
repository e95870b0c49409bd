/** Messages between the trainer and its gradient workers, and the gradient both sides compute. */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainBatch } from '../data/types.js';
import type { LossFunction } from '../losses/types.js';
import type { BaseRecaller } from '../models/base.js';

/** Loss value and gradients of `model` on its share of a batch, w.r.t. every named weight (keyed by variable name). */
export function partGradients(
  model: BaseRecaller,
  batch: TrainBatch,
  lossFn: LossFunction,
): { loss: number; grads: tf.NamedTensorMap; named: { name: string; variable: tf.Variable }[] } {
  const named = model.namedWeights();
  const { value, grads } = tf.variableGrads(
    () => model.loss(batch, lossFn),
    named.map((n) => n.variable),
  );
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, grads, named };
}

export interface WeightLayoutEntry {
  name: string;
  shape: number[];
  size: number;
  /** Offset in float32 elements in the shared weight and gradient buffers. */
  offset: number;
}

export interface WorkerInit {
  type: 'init';
  backend: string;
  model: string;
  config: object;
  loss: string;
  layout: WeightLayoutEntry[];
  weights: SharedArrayBuffer;
  grads: SharedArrayBuffer;
}

export interface WorkerStep {
  type: 'step';
  /** Bumped by the trainer whenever it writes new weights. */
  version: number;
  batch: TrainBatch;
}

export type WorkerReply = { type: 'ready' } | { type: 'done'; loss: number } | { type: 'error'; message: string };
