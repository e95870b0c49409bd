/** Messages between the trainer and its gradient workers. */
import type { TrainBatch } from '../data/types.js';

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
