/**
 * out[i] = x[i] · w[i] for every position i: x [L, B, D], w [L, D, E] → [L, B, E], as one
 * differentiable op.
 *
 * Why: the wasm backend runs batched matmuls (batch > 1) through a slow generic loop, and
 * splitting the batch with unstack/slice costs ~1 ms a slice there (a generic strided copy),
 * more than the matmuls themselves. Here the slices are views of one copy, each position is
 * one fast 2-D matmul, and the results are written into one array.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats } from '../backend/memory.js';

export function positionwiseMatMul(x: tf.Tensor3D, w: tf.Tensor3D): tf.Tensor3D {
  const [l, b, d] = x.shape;
  const [lw, dw, e] = w.shape;
  if (lw !== l || dw !== d) throw new Error(`positionwiseMatMul: x [${x.shape}] and w [${w.shape}] do not match`);
  const op = tf.customGrad(((xT: tf.Tensor3D, wT: tf.Tensor3D) => {
    // Copies: the views of wasm memory are invalidated by the matmuls below.
    const xs = readFloats(xT).slice();
    const ws = readFloats(wT).slice();
    const xAt = (i: number) => tf.tensor2d(xs.subarray(i * b * d, (i + 1) * b * d), [b, d]);
    const wAt = (i: number) => tf.tensor2d(ws.subarray(i * d * e, (i + 1) * d * e), [d, e]);
    const out = new Float32Array(l * b * e);
    for (let i = 0; i < l; i++) {
      const [xi, wi] = [xAt(i), wAt(i)];
      const oi = tf.matMul(xi, wi);
      out.set(readFloats(oi), i * b * e);
      tf.dispose([xi, wi, oi]);
    }
    const gradFunc = (dy: tf.Tensor) => {
      const g = readFloats(dy).slice();
      const dx = new Float32Array(l * b * d);
      const dwAll = new Float32Array(l * d * e);
      for (let i = 0; i < l; i++) {
        const [xi, wi] = [xAt(i), wAt(i)];
        const gi = tf.tensor2d(g.subarray(i * b * e, (i + 1) * b * e), [b, e]);
        const dxi = tf.matMul(gi, wi, false, true);
        dx.set(readFloats(dxi), i * b * d);
        const dwi = tf.matMul(xi, gi, true, false);
        dwAll.set(readFloats(dwi), i * d * e);
        tf.dispose([xi, wi, gi, dxi, dwi]);
      }
      return [tf.tensor3d(dx, [l, b, d]), tf.tensor3d(dwAll, [l, d, e])];
    };
    return { value: tf.tensor3d(out, [l, b, e]), gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor, c: tf.Tensor) => tf.Tensor)(x, w) as tf.Tensor3D;
}
