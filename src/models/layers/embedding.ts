/**
 * Embedding lookup with a gradient computed by a plain scatter-add.
 *
 * TF.js differentiates `gather` through UnsortedSegmentSum, which the wasm backend does not
 * register at all (training fails) and the cpu backend implements with a loop over every
 * segment (cost grows with items x batch). The scatter-add below touches each looked-up row
 * once. It reads `dy` synchronously, which is free on the cpu and wasm backends.
 */
import * as tf from '@tensorflow/tfjs-core';

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

/**
 * Looks up rows of `table` ([rows, dim]) for `indices` (int32, any shape); the result has shape
 * [...indices.shape, dim].
 */
export function embeddingLookup(table: tf.Tensor2D, indices: tf.Tensor): tf.Tensor {
  const [rows, dim] = table.shape;
  const flatIndices = tf.reshape(indices, [-1]);
  const lookup = tf.customGrad(((t: tf.Tensor2D, idx: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([idx]);
    const value = tf.gather(t, idx);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const idxValues = saved[0].dataSync() as Int32Array;
      const grad = scatterAddRows(dy.dataSync() as Float32Array, idxValues, rows, dim);
      return [tf.tensor2d(grad, [rows, dim]), tf.zerosLike(saved[0])];
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  const flat = lookup(table, flatIndices) as tf.Tensor2D;
  return tf.reshape(flat, [...indices.shape, dim]);
}
