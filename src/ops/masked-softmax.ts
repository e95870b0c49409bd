/**
 * Row-wise softmax over the USABLE entries of a [B, M] score matrix, as one op with its
 * analytic gradient. GRU4Rec's BPR-max and TOP1-max weight each negative by this softmax
 * (the official `softmax_neg`, which masks the positive's own column); seqrec masks every
 * excluded column the same way (the row's positive and accidental hits).
 *
 *   s_bj = v_bj exp(x_bj − m_b) / Σ_k v_bk exp(x_bk − m_b),  m_b = max_{k: v_bk = 1} x_bk
 *   ∂L/∂x_bj = s_bj (g_bj − Σ_k s_bk g_bk)
 *
 * A row with no usable entry is all zeros (and gets zero gradient). Composing this from TF.js
 * ops would differentiate through `max` (an Equal over the whole matrix) for nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats } from '../backend/memory.js';

/** `valid` is [B * M] (1 = usable, 0 = excluded) or null (all usable). */
export function maskedSoftmaxRows(x: tf.Tensor2D, valid: Float32Array | null): tf.Tensor2D {
  const [rows, cols] = x.shape;
  if (valid && valid.length !== rows * cols) throw new Error(`maskedSoftmaxRows: valid has ${valid.length} entries, expected ${rows * cols}`);
  const op = tf.customGrad(((xT: tf.Tensor2D) => {
    const data = readFloats(xT); // read before any other TF.js op
    const s = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let max = -Infinity;
      for (let c = 0; c < cols; c++) if ((!valid || valid[base + c] > 0) && data[base + c] > max) max = data[base + c];
      if (max === -Infinity) continue; // no usable entry: zeros
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        if (valid && !(valid[base + c] > 0)) continue;
        const e = Math.exp(data[base + c] - max);
        s[base + c] = e;
        sum += e;
      }
      for (let c = 0; c < cols; c++) s[base + c] /= sum;
    }
    const gradFunc = (dy: tf.Tensor) => {
      const g = readFloats(dy);
      const out = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const base = r * cols;
        let dot = 0;
        for (let c = 0; c < cols; c++) dot += s[base + c] * g[base + c];
        for (let c = 0; c < cols; c++) out[base + c] = s[base + c] * (g[base + c] - dot);
      }
      return [tf.tensor2d(out, [rows, cols])];
    };
    return { value: tf.tensor2d(s, [rows, cols]), gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x) as tf.Tensor2D;
}
