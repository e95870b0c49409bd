/**
 * Embedding lookup as one op with JavaScript kernels for both directions.
 *
 * TF.js differentiates `gather` through UnsortedSegmentSum, which the wasm backend does not
 * register at all (training fails) and the cpu backend implements with a loop over every
 * segment (cost grows with items x batch). The wasm gather itself is slow too (about 10 ms
 * for 5,120 rows of 64). Here the forward pass copies rows and the backward pass scatter-adds
 * them, each touching every looked-up row once, reading the table in place where the backend
 * allows it (src/backend/memory.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats, readInts } from '../../backend/memory.js';

/** Adds row i of `dy` ([n, dim]) into row indices[i] of a [rows, dim] zero matrix. */
export function scatterAddRows(dy: Float32Array, indices: Int32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < indices.length; i++) {
    const src = i * dim;
    const dst = indices[i] * dim;
    for (let d = 0; d < dim; d++) out[dst + d] += dy[src + d];
  }
  return out;
}

/** Copies rows `indices` of a [rows, dim] table into a new [n, dim] array. */
export function gatherRows(table: Float32Array, indices: Int32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(indices.length * dim);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i];
    if (!(r >= 0 && r < rows)) throw new RangeError(`embedding index ${r} is out of range [0, ${rows})`);
    out.set(table.subarray(r * dim, r * dim + dim), i * dim);
  }
  return out;
}

/**
 * Looks up rows of `table` ([rows, dim]) for `indices` (int32, any shape); the result has shape
 * [...indices.shape, dim].
 */
export function embeddingLookup(table: tf.Tensor2D, indices: tf.Tensor): tf.Tensor {
  const [rows, dim] = table.shape;
  const idx = readInts(indices).slice();
  const lookup = tf.customGrad(((t: tf.Tensor2D) => {
    const value = tf.tensor2d(gatherRows(readFloats(t), idx, rows, dim), [idx.length, dim]);
    const gradFunc = (dy: tf.Tensor) => [tf.tensor2d(scatterAddRows(readFloats(dy), idx, rows, dim), [rows, dim])];
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return tf.reshape(lookup(table) as tf.Tensor2D, [...indices.shape, dim]);
}
