/**
 * The feature vector of every item: the mean of its features' rows of a feature table, as one
 * op with JavaScript kernels both ways (TF.js would need a segment sum, which the wasm backend
 * does not register). Items without features (and padding row 0) get a zero row.
 *
 *   out[i] = (1 / |f(i)|) Σ_{k ∈ f(i)} table[k]          dTable[k] = Σ_{i : k ∈ f(i)} dy[i] / |f(i)|
 *
 * Cost O(nnz · D) each way, where nnz is the number of (item, feature) pairs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats, tensorFilledBy } from '../backend/memory.js';

/** CSR rows of feature ids per item (`ItemFeatures` has this shape). */
export interface FeatureRows {
  offsets: Int32Array;
  ids: Int32Array;
}

/** Writes the per-item means into `out` ([items, dim]). */
export function featureMeanRows(out: Float32Array, table: Float32Array, rows: FeatureRows, dim: number): void {
  out.fill(0);
  const { offsets, ids } = rows;
  for (let i = 0; i + 1 < offsets.length; i++) {
    const n = offsets[i + 1] - offsets[i];
    if (n === 0) continue;
    const scale = 1 / n;
    const dst = i * dim;
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      const src = ids[k] * dim;
      for (let d = 0; d < dim; d++) out[dst + d] += table[src + d];
    }
    for (let d = 0; d < dim; d++) out[dst + d] *= scale;
  }
}

/** The gradient of `featureMeanRows` w.r.t. the table: `out` is [features, dim]. */
export function featureMeanGrad(out: Float32Array, dy: Float32Array, rows: FeatureRows, dim: number): void {
  out.fill(0);
  const { offsets, ids } = rows;
  for (let i = 0; i + 1 < offsets.length; i++) {
    const n = offsets[i + 1] - offsets[i];
    if (n === 0) continue;
    const scale = 1 / n;
    const src = i * dim;
    for (let k = offsets[i]; k < offsets[i + 1]; k++) {
      const dst = ids[k] * dim;
      for (let d = 0; d < dim; d++) out[dst + d] += dy[src + d] * scale;
    }
  }
}

/** [items, D] per-item mean of `table` ([features, D]) rows over `rows` (differentiable in `table`). */
export function featureMean(table: tf.Tensor2D, rows: FeatureRows): tf.Tensor2D {
  const [features, dim] = table.shape;
  const items = rows.offsets.length - 1;
  const op = tf.customGrad(((t: tf.Tensor2D) => {
    const value = tensorFilledBy([items, dim], (out) => featureMeanRows(out, readFloats(t), rows, dim));
    const gradFunc = (dy: tf.Tensor) => [tensorFilledBy([features, dim], (out) => featureMeanGrad(out, readFloats(dy), rows, dim))];
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(table) as tf.Tensor2D;
}
