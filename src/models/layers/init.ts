/**
 * Seeded weight initialisers. They fill Float32Arrays from a `Random`, so initialisation is
 * reproducible on every backend (TF.js's own random ops are seeded per call and differ
 * between backends).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Random } from '../../util/random.js';

/** Glorot/Xavier uniform: U(-a, a) with a = sqrt(6 / (fanIn + fanOut)). TF's default, as in ComiRec. */
export function glorotUniform(rng: Random, shape: number[], fanIn = shape[0], fanOut = shape[shape.length - 1]): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return uniformArray(rng, size(shape), limit);
}

/** U(-limit, limit). PyTorch's nn.GRU uses limit = 1/sqrt(hidden). */
export function uniformArray(rng: Random, n: number, limit: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.next() * 2 - 1) * limit;
  return out;
}

/** N(0, std^2). */
export function normalArray(rng: Random, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A trainable variable with the given values and a stable name (used by checkpoints). */
export function variable(values: Float32Array, shape: number[], name: string): tf.Variable {
  // tf.variable shares the initial tensor's data and keeps its own reference: dispose the
  // initial tensor, or every model construction leaks one tensor (the full initial values)
  // per weight, which shows as growth across a server's hot reloads.
  const initial = tf.tensor(values, shape, 'float32');
  const v = tf.variable(initial, true, name);
  initial.dispose();
  return v;
}
