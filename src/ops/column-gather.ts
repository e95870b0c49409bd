/**
 * Columns of a score matrix, one set per row: out[r, j] = scores[r, columns[r·k + j]].
 *
 * Per-row sampled losses on a small catalogue score the whole table once ([R, N], one matmul)
 * and read each row's k columns, instead of gathering [R, k, D] embeddings. TF.js's gather has
 * no row-wise form and its gradient (UnsortedSegmentSum) has no wasm kernel; the gradient here
 * is the k values scattered into a zero [R, N] matrix.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats, tensorFilledBy } from '../backend/memory.js';

export function gatherColumns(scores: tf.Tensor2D, columns: Int32Array): tf.Tensor2D {
  const [rows, n] = scores.shape;
  const k = columns.length / rows;
  if (!Number.isInteger(k)) throw new Error(`gatherColumns: ${columns.length} columns is not a multiple of ${rows} rows`);
  const op = tf.customGrad(((x: tf.Tensor) => {
    // Row by row, the row first read (or zeroed) in order: k random accesses into a row that
    // is in cache, not into the whole matrix (3x faster at ML-1M's [3,400 x 3,417], k = 256).
    const value = tensorFilledBy<tf.Rank.R2>([rows, k], (out) => {
      const src = readFloats(x);
      let touched = 0;
      for (let r = 0; r < rows; r++) {
        for (let c = r * n; c < (r + 1) * n; c += 16) touched += src[c];
        for (let j = 0; j < k; j++) out[r * k + j] = src[r * n + columns[r * k + j]];
      }
      return touched;
    });
    const gradFunc = (dy: tf.Tensor) =>
      tensorFilledBy([rows, n], (out) => {
        const g = readFloats(dy);
        for (let r = 0; r < rows; r++) {
          out.fill(0, r * n, (r + 1) * n);
          for (let j = 0; j < k; j++) out[r * n + columns[r * k + j]] += g[r * k + j];
        }
      });
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (x: tf.Tensor) => tf.Tensor)(scores) as tf.Tensor2D;
}
