/**
 * Row-wise log-sum-exp of a [B, N] logit matrix (or of several [B, n_i] blocks side by side) as
 * one op with a cheap gradient.
 *
 * TF.js's `logSumExp` differentiates through `max` (an Equal over the whole matrix, ~100 ms on
 * wasm for 256 x 3,706) although that part of the gradient cancels exactly. Here the forward
 * pass keeps exp(x − rowMax) and the backward pass is one multiply per element:
 *   ∂/∂x_bj = dy_b · exp(x_bj − lse_b)  (the row's softmax).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFloats, tensorFilledBy } from '../backend/memory.js';
import { nativeAddon } from '../backend/native.js';
import { simdKernels, tensorFromArena, type SimdKernels } from '../backend/simd.js';

export function logSumExpRows(...blocks: tf.Tensor2D[]): tf.Tensor1D {
  // Several blocks are the columns of one [B, Σ widths] matrix, side by side: the op writes them
  // into its own memory and hands each its gradient, sparing a Concat (and its SplitV gradient,
  // 30 ms on wasm for a sampled softmax's [3,792 x 257] logits).
  const rows = blocks[0].shape[0];
  const widths = blocks.map((x) => x.shape[1]);
  const cols = widths.reduce((a, b) => a + b, 0);
  const writeColumns = (dst: Float32Array, xs: tf.Tensor[]) => {
    if (xs.length === 1) return dst.set(readFloats(xs[0]));
    let offset = 0;
    xs.forEach((x, i) => {
      const w = widths[i];
      const src = readFloats(x);
      for (let r = 0; r < rows; r++) for (let j = 0; j < w; j++) dst[r * cols + offset + j] = src[r * w + j];
      offset += w;
    });
  };
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const xs = args as tf.Tensor2D[];
    save(xs);
    const simd = simdKernels();
    const exps = shiftedExponentials(simd, rows, cols, [rows], writeColumns, xs);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const g = readFloats(dy).slice();
      const arena = exps.current(saved);
      exps.scales(g, arena.view(3));
      simd.fn.scale_rows(arena.at(0), rows, cols, arena.at(3));
      if (xs.length === 1) return [tensorFromArena(arena.view(0), [rows, cols])];
      let offset = 0;
      return widths.map((w) => {
        const from = offset;
        offset += w;
        // The arena's view is taken inside the fill, after the allocation.
        return tensorFilledBy([rows, w], (out) => {
          const all = arena.view(0);
          for (let r = 0; r < rows; r++) for (let j = 0; j < w; j++) out[r * w + j] = all[r * cols + from + j];
        });
      });
    };
    return { value: tf.tensor1d(exps.lse), gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (...xs: tf.Tensor[]) => tf.Tensor)(...blocks) as tf.Tensor1D;
}

/**
 * exp(x − row max) of a [rows, cols] logit matrix, in the kernels' memory (arrays 0-2 of the
 * arena: exponentials, row maxima, row sums; `extra` arrays follow), and lse per row. The
 * exponentials are left there for the backward pass, which normally comes next (the loss is
 * the last op of the forward pass); `current(saved)` returns them, recomputed from the saved
 * inputs if another kernel call has reused the memory since. `writeLogits` copies the
 * logits of `inputs` into its first argument.
 */
function shiftedExponentials(
  simd: SimdKernels,
  rows: number,
  cols: number,
  extra: number[],
  writeLogits: (dst: Float32Array, inputs: tf.Tensor[]) => void,
  inputs: tf.Tensor[],
) {
  const compute = (from: tf.Tensor[]) => {
    const arena = simd.arena(rows * cols, rows, rows, ...extra);
    writeLogits(arena.view(0), from);
    simd.fn.exp_shift_rows(arena.at(0), rows, cols, arena.at(1), arena.at(2));
    return arena;
  };
  const first = compute(inputs);
  const generation = simd.generation;
  const maxes = first.view(1);
  const sums = first.view(2).slice();
  const lse = new Float32Array(rows);
  for (let r = 0; r < rows; r++) lse[r] = maxes[r] + Math.log(sums[r]);
  return {
    lse,
    current: (saved: tf.Tensor[]) => (simd.generation === generation ? first : compute(saved)),
    /** out[r] = dy[r] / Σ_j exp(x_rj − max_r): the row factor of the softmax gradient. */
    scales(dy: Float32Array, out: Float32Array) {
      for (let r = 0; r < rows; r++) out[r] = dy[r] / sums[r];
    },
  };
}

/**
 * The full-softmax normaliser lse_b = log Σ_j exp(u_b · e_j) of user vectors `user` [B, D] over
 * item vectors `items` [N, D] from row `firstRow` on (rows before it, e.g. padding row 0, are
 * outside the softmax and get a zero gradient; taking the whole table spares a slice of it and
 * the pad of its gradient), as one op: the [B, N] logits never leave it, and the backward
 * pass builds the softmax gradient G in both layouts at once (scale_rows_both), so
 *   ∂/∂U = G · E   and   ∂/∂E = Gᵀ · U
 * are two plain matmuls. Through TF.js ops the second needs a transpose of the [B, N] matrix,
 * which on wasm costs as much as the matmul. With the native addon the three matmuls are
 * OpenBLAS sgemm calls on the kernels' memory instead, writing the gradients straight into
 * their tensors.
 */
export function softmaxNormaliser(user: tf.Tensor2D, items: tf.Tensor2D, firstRow = 0): tf.Tensor1D {
  const [rows, dim] = user.shape;
  const tableRows = items.shape[0];
  const cols = tableRows - firstRow;
  const skip = firstRow * dim;
  const addon = nativeAddon();
  const op = tf.customGrad(((u: tf.Tensor2D, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([u, e]);
    const simd = simdKernels();
    // Native: sgemm writes the logits straight into the kernels' memory, and the backward pass
    // multiplies by G and Gᵀ in place (sgemm transposes for free), so no [B, N] matrix is
    // copied or transposed. Otherwise G is built in both layouts (see above).
    const writeLogits = addon
      ? (dst: Float32Array, [uT, eT]: tf.Tensor[]) => addon.sgemm(0, 1, rows, cols, dim, 1, readFloats(uT), readFloats(eT).subarray(skip), 0, dst)
      : (dst: Float32Array, [uT, eT]: tf.Tensor[]) => {
          const logits = tf.tidy(() => tf.matMul(uT, firstRow ? tf.slice(eT, [firstRow, 0], [cols, dim]) : eT, false, true));
          dst.set(readFloats(logits));
          logits.dispose();
        };
    const exps = shiftedExponentials(simd, rows, cols, addon ? [rows] : [rows, rows * cols, cols * rows], writeLogits, [u, e]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [uSaved, eSaved] = saved;
      const g = readFloats(dy).slice();
      const arena = exps.current(saved);
      exps.scales(g, arena.view(3));
      if (addon) {
        // G = diag(s)·X with X the exponentials, so dU = diag(s)·(X·E) and dE = Xᵀ·(diag(s)·U):
        // the row scale goes on the [B, D] sides, sparing a pass over the [B, N] matrix.
        // Views of the tensors are taken inside the fills, after each allocation.
        const s = arena.view(3).slice();
        const scaledUser = readFloats(uSaved).slice();
        for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) scaledUser[r * dim + d] *= s[r];
        const dUser = tensorFilledBy([rows, dim], (out) => {
          addon.sgemm(0, 0, rows, dim, cols, 1, arena.view(0), readFloats(eSaved).subarray(skip), 0, out);
          for (let r = 0; r < rows; r++) for (let d = 0; d < dim; d++) out[r * dim + d] *= s[r];
        });
        const dItems = tensorFilledBy([tableRows, dim], (out) => {
          out.fill(0, 0, skip);
          addon.sgemm(1, 0, cols, dim, rows, 1, arena.view(0), scaledUser, 0, out.subarray(skip));
        });
        return [dUser, dItems];
      }
      simd.fn.scale_rows_both(arena.at(0), rows, cols, arena.at(3), arena.at(4), arena.at(5));
      return tf.tidy(() => {
        const gradient = tensorFromArena<tf.Rank.R2>(arena.view(4), [rows, cols]);
        const gradientT = tensorFromArena<tf.Rank.R2>(arena.view(5), [cols, rows]);
        const dUser = tf.matMul(gradient, firstRow ? tf.slice(eSaved, [firstRow, 0], [cols, dim]) : eSaved);
        const dReal = tf.matMul(gradientT, uSaved);
        return [dUser, firstRow ? tf.concat([tf.zeros([firstRow, dim]), dReal]) : dReal];
      });
    };
    return { value: tf.tensor1d(exps.lse), gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (op as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(user, items) as tf.Tensor1D;
}
