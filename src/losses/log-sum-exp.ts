/**
 * Row-wise log-sum-exp of a [B, N] logit matrix as one op with a cheap gradient.
 *
 * TF.js's `logSumExp` differentiates through `max` (an Equal over the whole matrix, ~100 ms on
 * wasm for 256 x 3,706) although that part of the gradient cancels exactly. Here the forward
 * pass keeps exp(x − rowMax) and the backward pass is one multiply per element:
 *   ∂/∂x_bj = dy_b · exp(x_bj − lse_b)  (the row's softmax).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats } from '../backend/memory.js';
import { simdKernels, tensorFromArena, type SimdKernels } from '../backend/simd.js';

export function logSumExpRows(logits: tf.Tensor2D): tf.Tensor1D {
  const [rows, cols] = logits.shape;
  const op = tf.customGrad(((x: tf.Tensor2D) => {
    return expShiftedRows(simdKernels(), readFloats(x), rows, cols);
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(logits) as tf.Tensor1D;
}

/** Forward and backward, with the exponentials in WebAssembly SIMD (src/backend/simd/kernels.c). */
function expShiftedRows(simd: SimdKernels, data: Float32Array, rows: number, cols: number) {
  const arena = simd.arena(rows * cols, rows, rows);
  arena.view(0).set(data);
  simd.fn.exp_shift_rows(arena.offsets[0], rows, cols, arena.offsets[1], arena.offsets[2]);
  // exp(x − max) is kept for the backward pass; the module's memory is reused by the next call.
  const expShifted = arena.view(0).slice();
  const maxes = arena.view(1);
  const sums = arena.view(2).slice();
  const lse = new Float32Array(rows);
  for (let r = 0; r < rows; r++) lse[r] = maxes[r] + Math.log(sums[r]);
  const gradFunc = (dy: tf.Tensor) => {
    const g = readFloats(dy);
    const back = simd.arena(rows * cols, rows);
    const scale = back.view(1);
    for (let r = 0; r < rows; r++) scale[r] = g[r] / sums[r];
    back.view(0).set(expShifted);
    simd.fn.scale_rows(back.offsets[0], rows, cols, back.offsets[1]);
    return [tensorFromArena(back.view(0), [rows, cols])];
  };
  return { value: tf.tensor1d(lse), gradFunc };
}

/**
 * The full-softmax normaliser lse_b = log Σ_j exp(u_b · e_j) of user vectors `user` [B, D] over
 * item vectors `items` [N, D], as one op: the [B, N] logits never leave it, and the backward
 * pass builds the softmax gradient G in both layouts at once (scale_rows_both), so
 *   ∂/∂U = G · E   and   ∂/∂E = Gᵀ · U
 * are two plain matmuls. Through TF.js ops the second needs a transpose of the [B, N] matrix,
 * which on wasm costs as much as the matmul.
 */
export function softmaxNormaliser(user: tf.Tensor2D, items: tf.Tensor2D): tf.Tensor1D {
  const [rows] = user.shape;
  const [cols] = items.shape;
  const op = tf.customGrad(((u: tf.Tensor2D, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([u, e]);
    const simd = simdKernels();
    // exp(x − max) and the row sums, left in the kernels' memory for the backward pass: it
    // normally comes next (the loss is the last op of the forward pass); if another kernel
    // call reused the memory meanwhile, the backward pass recomputes them.
    const expRows = (uT: tf.Tensor2D, eT: tf.Tensor2D, extra: number[]) => {
      const logits = tf.matMul(uT, eT, false, true);
      const arena = simd.arena(rows * cols, rows, rows, ...extra);
      arena.view(0).set(readFloats(logits));
      logits.dispose();
      simd.fn.exp_shift_rows(arena.offsets[0], rows, cols, arena.offsets[1], arena.offsets[2]);
      return arena;
    };
    const forward = expRows(u, e, [rows, rows * cols, cols * rows]);
    const generation = simd.generation;
    const maxes = forward.view(1);
    const sums = forward.view(2).slice();
    const lse = new Float32Array(rows);
    for (let r = 0; r < rows; r++) lse[r] = maxes[r] + Math.log(sums[r]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [uSaved, eSaved] = saved;
      const g = readFloats(dy).slice();
      const arena = simd.generation === generation ? forward : expRows(uSaved as tf.Tensor2D, eSaved as tf.Tensor2D, [rows, rows * cols, cols * rows]);
      const scale = arena.view(3);
      for (let r = 0; r < rows; r++) scale[r] = g[r] / sums[r];
      simd.fn.scale_rows_both(arena.offsets[0], rows, cols, arena.offsets[3], arena.offsets[4], arena.offsets[5]);
      const gradient = tensorFromArena<tf.Rank.R2>(arena.view(4), [rows, cols]);
      const gradientT = tensorFromArena<tf.Rank.R2>(arena.view(5), [cols, rows]);
      const dUser = tf.matMul(gradient, eSaved);
      const dItems = tf.matMul(gradientT, uSaved);
      tf.dispose([gradient, gradientT]);
      return [dUser, dItems];
    };
    return { value: tf.tensor1d(lse), gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(user, items) as tf.Tensor1D;
}
