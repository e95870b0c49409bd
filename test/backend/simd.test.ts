/**
 * seqrec's WebAssembly SIMD kernels (src/backend/simd/kernels.c) and their native twins
 * (native/seqrec_native.c, where `seqrec setup native` built them) against the JavaScript twins
 * (the reference, one float at a time with Math.exp / Math.tanh) on odd sizes, so the vector
 * loops and their scalar tails both run; and the ops built on them against TF.js's own ops.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeStatus } from '../../src/backend/native.js';
import { createKernels, type SimdKernels } from '../../src/backend/simd.js';
import { Random } from '../../src/util/random.js';
import { softmaxNormaliser } from '../../src/ops/log-sum-exp.js';
import { positionwiseMatMul } from '../../src/ops/position-matmul.js';
import { maxAbsDiff, setupBackend } from '../helpers.js';

before(setupBackend);

const js = createKernels('javascript');

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1e-30, Math.abs(b[i])));
  return worst;
}

/** Runs `call` on both kernel sets with the same inputs; returns each set's output arrays. */
function bothOf(
  kernels: SimdKernels,
  inputs: Float32Array[],
  outputs: number[],
  call: (k: SimdKernels, at: number[]) => void,
): [Float32Array[], Float32Array[]] {
  const run = (k: SimdKernels) => {
    const arena = k.arena(...inputs.map((x) => x.length), ...outputs);
    inputs.forEach((x, i) => arena.view(i).set(x));
    for (let i = 0; i < outputs.length; i++) arena.view(inputs.length + i).fill(Number.NaN);
    call(k, arena.offsets);
    return Array.from({ length: inputs.length + outputs.length }, (_, i) => arena.view(i).slice());
  };
  return [run(kernels), run(js)];
}

const randomArray = (rng: Random, n: number, scale = 1) => Float32Array.from({ length: n }, () => scale * rng.normal());

const native = nativeStatus();
for (const kind of ['simd', 'native'] as const) {
  const kernels = createKernels(kind as 'simd');
  const skip = kind === 'native' && !native.loaded ? `native kernels not loaded (${native.loaded ? '' : native.reason})` : false;
  const both = (inputs: Float32Array[], outputs: number[], call: (k: SimdKernels, at: number[]) => void) => bothOf(kernels!, inputs, outputs, call);
  describe(`${kind} kernels against the JavaScript twins`, { skip }, () => {
    it(kind === 'simd' ? 'load here (WebAssembly SIMD is part of Node 20)' : 'load here (built by seqrec setup native)', () => {
      assert.ok(kernels, `the ${kind} kernels did not load`);
      assert.equal(kernels.native, kind === 'native');
    });

    it('exp matches Math.exp to 3e-7 relative over [-87, 88.3], is 0 below and +inf above that range', () => {
      const xs = Float32Array.from({ length: 20_003 }, (_, i) => -87 + (175 * i) / 20_002);
      const [[got]] = both([xs], [], (k, [x]) => k.fn.exp_inplace(x, xs.length));
      const want = Float32Array.from(xs, Math.exp);
      assert.ok(maxRelDiff(got, want) < 3e-7, `max relative error ${maxRelDiff(got, want)}`);
      const edges = Float32Array.of(-1000, -90, -88, 89, 1000, 0, 88.3);
      const [[e]] = both([edges], [], (k, [x]) => k.fn.exp_inplace(x, edges.length));
      assert.deepEqual(Array.from(e).slice(0, 6), [0, 0, 0, Infinity, Infinity, 1]);
      assert.ok(Math.abs(e[6] / Math.exp(Math.fround(88.3)) - 1) < 3e-7, 'finite and exact just below the top of the range');
    });

    it('exp_shift_rows: exp(x − row max) and row sums, vector loop and tail (13 columns)', () => {
      const rng = new Random(2);
      const [rows, cols] = [7, 13];
      const x = randomArray(rng, rows * cols, 20);
      const [a, b] = both([x], [rows, rows], (k, [p, m, s]) => k.fn.exp_shift_rows(p, rows, cols, m, s));
      // Values are in (0, 1]: compare absolutely (x − max rounds differently in float32 and float64).
      assert.ok(maxAbsDiff(a[0], b[0]) < 1e-6, `max abs diff ${maxAbsDiff(a[0], b[0])}`);
      assert.deepEqual(Array.from(a[1]), Array.from(b[1])); // the maxima are exact
      assert.ok(maxRelDiff(a[2], b[2]) < 1e-6);
    });

    it('scale_rows_both writes the scaled matrix and its exact transpose (rows and columns not multiples of 4)', () => {
      const rng = new Random(3);
      for (const [rows, cols] of [
        [9, 13],
        [8, 16],
        [3, 5],
      ]) {
        const e = randomArray(rng, rows * cols);
        const scale = randomArray(rng, rows);
        const [a, b] = both([e, scale], [rows * cols, rows * cols], (k, [p, s, g, gt]) => k.fn.scale_rows_both(p, rows, cols, s, g, gt));
        assert.deepEqual(Array.from(a[2]), Array.from(b[2]));
        assert.deepEqual(Array.from(a[3]), Array.from(b[3]));
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) assert.equal(a[3][c * rows + r], a[2][r * cols + c]);
      }
    });

    it('GRU forward and backward steps match the JavaScript equations (H = 6: vector part and tail)', () => {
      const rng = new Random(4);
      const [b, h, l] = [5, 6, 3];
      const x = randomArray(rng, b * l * 3 * h);
      const hp = randomArray(rng, b * 3 * h);
      const bias = randomArray(rng, 3 * h, 0.1);
      const prev = randomArray(rng, b * h);
      const mask = Float32Array.of(1, 0, 1, 1, 0);
      const [fa, fb] = both([x, hp, bias, prev, mask], [b * h, b * h, b * h, b * h, b * h, b * l * h], (k, o) =>
        k.fn.gru_forward_step(o[0] + 4 * 3 * h, l * 3 * h, o[1], o[2], o[3], o[4], b, h, o[5], o[6], o[7], o[8], o[9], o[10] + 4 * h, l * h),
      );
      for (let i = 5; i < 9; i++) assert.ok(maxAbsDiff(fa[i], fb[i]) < 2e-6, `forward output ${i}`);
      // The state output is written at step 1 of each row only (stride l·H).
      for (let i = 0; i < b; i++) for (let j = 0; j < h; j++) assert.equal(fa[10][i * l * h + h + j], fa[5][i * h + j]);
      // A padded row carries its state: h_t = h_{t-1}.
      for (let j = 0; j < h; j++) assert.equal(fa[5][1 * h + j], prev[1 * h + j]);
      const g = randomArray(rng, b * l * h);
      const dNext = randomArray(rng, b * h);
      const [ba, bb] = both([g, dNext, fa[6], fa[7], fa[8], fa[9], prev, mask], [b * l * 3 * h, b * 3 * h, b * h], (k, o) =>
        k.fn.gru_backward_step(o[0] + 4 * 2 * h, l * h, o[1], o[2], o[3], o[4], o[5], o[6], o[7], b, h, o[8] + 4 * 2 * 3 * h, l * 3 * h, o[9], o[10]),
      );
      for (let i = 9; i < 11; i++) assert.ok(maxAbsDiff(ba[i], bb[i]) < 1e-6, `backward output ${i}`);
      // dx is written at step 2 of each row only.
      for (let i = 0; i < b; i++) {
        for (let c = 0; c < 3 * h; c++) {
          const at = i * l * 3 * h + 2 * 3 * h + c;
          assert.ok(Math.abs(ba[8][at] - bb[8][at]) < 1e-6);
        }
      }
    });

    it('batch_matmul matches the plain triple loop for every transpose combination', () => {
      const rng = new Random(5);
      const [batch, m, k, n] = [3, 4, 7, 5];
      const a = randomArray(rng, batch * m * k);
      const b = randomArray(rng, batch * k * n);
      for (const [ta, tb] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ]) {
        const [x, y] = both([a, b], [batch * m * n], (kk, [pa, pb, out]) => kk.fn.batch_matmul(pa, pb, out, batch, m, k, n, ta, tb));
        assert.ok(maxAbsDiff(x[2], y[2]) < 1e-5, `ta ${ta} tb ${tb}`);
      }
    });
  });
}

describe('ops on the kernels', () => {
  it('softmaxNormaliser equals log Σ exp(U Eᵀ) through TF.js ops, in value and both gradients', () => {
    const rng = new Random(6);
    const u = tf.tensor2d(randomArray(rng, 6 * 5, 3), [6, 5]);
    const e = tf.tensor2d(randomArray(rng, 11 * 5, 3), [11, 5]);
    const weights = tf.tensor1d(randomArray(rng, 6));
    const mine = (uu: tf.Tensor, ee: tf.Tensor) => tf.sum(tf.mul(softmaxNormaliser(uu as tf.Tensor2D, ee as tf.Tensor2D), weights));
    const reference = (uu: tf.Tensor, ee: tf.Tensor) => tf.sum(tf.mul(tf.logSumExp(tf.matMul(uu, ee, false, true), 1), weights));
    assert.ok(maxAbsDiff(softmaxNormaliser(u, e).dataSync(), tf.logSumExp(tf.matMul(u, e, false, true), 1).dataSync()) < 1e-4);
    const got = tf.grads(mine)([u, e]);
    const want = tf.grads(reference)([u, e]);
    for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(got[i].dataSync(), want[i].dataSync()) < 1e-4, `gradient ${i}`);
  });

  it('softmaxNormaliser recomputes its exponentials when another kernel call reused their memory', () => {
    const rng = new Random(7);
    const u = tf.tensor2d(randomArray(rng, 4 * 3), [4, 3]);
    const e = tf.tensor2d(randomArray(rng, 9 * 3), [9, 3]);
    const reference = tf.grads((uu: tf.Tensor, ee: tf.Tensor) => tf.sum(tf.logSumExp(tf.matMul(uu, ee, false, true), 1)))([u, e]);
    // A batched matmul (seqrec's kernel on wasm) between the forward and backward passes.
    const got = tf.grads((uu: tf.Tensor, ee: tf.Tensor) => {
      const lse = softmaxNormaliser(uu as tf.Tensor2D, ee as tf.Tensor2D);
      const other = tf.sum(tf.matMul(tf.ones([2, 3, 4]), tf.ones([2, 4, 2])));
      return tf.add(tf.sum(lse), tf.mul(other, 0));
    })([u, e]);
    for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(got[i].dataSync(), reference[i].dataSync()) < 1e-4, `gradient ${i}`);
  });

  it('positionwiseMatMul equals one matMul per position, in value and gradients', () => {
    const rng = new Random(8);
    const [l, b, d, e] = [3, 4, 5, 6];
    const x = tf.tensor3d(randomArray(rng, l * b * d), [l, b, d]);
    const w = tf.tensor3d(randomArray(rng, l * d * e), [l, d, e]);
    const probe = tf.tensor3d(randomArray(rng, l * b * e), [l, b, e]);
    const reference = (xx: tf.Tensor, ww: tf.Tensor) => tf.stack(tf.unstack(xx).map((xi, i) => tf.matMul(xi, tf.unstack(ww)[i])));
    assert.ok(maxAbsDiff(positionwiseMatMul(x, w).dataSync(), reference(x, w).dataSync()) < 1e-5);
    const got = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(positionwiseMatMul(xx as tf.Tensor3D, ww as tf.Tensor3D), probe)))([x, w]);
    const want = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(reference(xx, ww), probe)))([x, w]);
    for (let i = 0; i < 2; i++) assert.ok(maxAbsDiff(got[i].dataSync(), want[i].dataSync()) < 1e-5, `gradient ${i}`);
  });
});
