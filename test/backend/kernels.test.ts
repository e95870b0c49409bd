/**
 * Every speed fix is checked against what it replaces: the stock TF.js kernel or the
 * composition of TF.js ops it fuses, to float tolerance, values and gradients.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { stockKernel } from '../../src/backend/kernels.js';
import { Random } from '../../src/util/random.js';
import { logSumExpRows } from '../../src/ops/log-sum-exp.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { maxAbsDiff, randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

function randn(rng: Random, shape: number[]): tf.Tensor {
  return tf.tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
    shape,
  );
}

describe('BatchMatMul override', () => {
  it('matches the stock kernel for every transpose combination, batched and zero-size', () => {
    const rng = new Random(1);
    const stock = stockKernel('BatchMatMul', tf.getBackend());
    assert.ok(stock, 'stock kernel available');
    const cases: [number[], number[], boolean, boolean][] = [
      [[7, 5], [5, 3], false, false],
      [[5, 7], [5, 3], true, false],
      [[7, 5], [3, 5], false, true],
      [[5, 7], [3, 5], true, true],
      [[2, 4, 6], [2, 6, 3], false, false],
      [[2, 6, 4], [2, 3, 6], true, true],
      [[3, 4, 6], [3, 5, 6], false, true],
      [[3, 6, 4], [3, 6, 5], true, false],
      [[256, 4, 20], [256, 20, 64], false, false], // MIND's routing shape (seqrec's SIMD kernel on wasm)
      [[0, 5], [5, 3], false, false],
      // Native rowwise kernel: 4-row blocks with a 1-3 row rest, 16- and 8-column blocks, and
      // fewer than 8 columns left over (dot products over k when k >= 16).
      [[13, 40], [40, 4], false, false],
      [[9, 64], [64, 21], false, false],
      [[6, 20], [20, 24], false, false],
      // Shapes where transposing the output instead of the big input is cheaper.
      [[40, 7], [40, 3], true, false],
      [[2, 50], [4, 50], false, true],
      [[50, 2], [4, 50], true, true],
      [[2, 30, 4], [2, 30, 3], true, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const a = randn(rng, sa);
      const b = randn(rng, sb);
      const got = tf.matMul(a, b, ta, tb);
      // The reference: explicit transposes, then the plain product computed in JS.
      const at = ta ? tf.transpose(a, sa.length === 3 ? [0, 2, 1] : [1, 0]) : a;
      const bt = tb ? tf.transpose(b, sb.length === 3 ? [0, 2, 1] : [1, 0]) : b;
      const A = at.arraySync() as number[][] | number[][][];
      const Bm = bt.arraySync() as number[][] | number[][][];
      const mm = (x: number[][], y: number[][]) => x.map((row) => y[0].map((_, j) => row.reduce((s, v, k) => s + v * y[k][j], 0)));
      const want = sa.length === 3 ? (A as number[][][]).map((x, i) => mm(x, (Bm as number[][][])[i])) : mm(A as number[][], Bm as number[][]);
      const rows = ta ? sa[sa.length - 1] : sa[sa.length - 2];
      const cols = tb ? sb[sb.length - 2] : sb[sb.length - 1];
      assert.deepEqual(got.shape, sa.length === 3 ? [sa[0], rows, cols] : [rows, cols]);
      if (got.size) assert.ok(maxAbsDiff(got.dataSync(), want.flat(2) as number[]) < 1e-4, `${sa} x ${sb} ${ta} ${tb}`);
      tf.dispose([a, b, got, at, bt]);
    }
  });
});

describe('Sum override (leading axes)', () => {
  it('equals a JavaScript column sum for ranks 2 and 3, with and without keepDims; other axes keep the stock kernel', () => {
    const rng = new Random(9);
    for (const shape of [
      [37, 5],
      [3, 11, 7],
      [1, 4],
    ]) {
      const x = randn(rng, shape);
      const cols = shape[shape.length - 1];
      const values = x.dataSync();
      const want = new Float64Array(cols);
      for (let i = 0; i < values.length; i++) want[i % cols] += values[i];
      const leading = shape.slice(0, -1).map((_, i) => i);
      const got = tf.sum(x, leading);
      assert.deepEqual(got.shape, [cols]);
      assert.ok(maxAbsDiff(got.dataSync(), Array.from(want)) < 1e-4, `${shape}`);
      const kept = tf.sum(x, leading, true);
      assert.deepEqual(kept.shape, [...shape.slice(0, -1).map(() => 1), cols]);
      assert.ok(maxAbsDiff(kept.dataSync(), Array.from(want)) < 1e-4);
      const last = tf.sum(x, -1);
      assert.deepEqual(last.shape, shape.slice(0, -1));
      tf.dispose([x, got, kept, last]);
    }
  });
});

describe('logSumExpRows', () => {
  it('equals tf.logSumExp in value and gradient, also for large logits', () => {
    const rng = new Random(2);
    const x = tf.mul(randn(rng, [6, 50]), tf.scalar(30)) as tf.Tensor2D;
    const w = randn(rng, [6]);
    const f1 = (t: tf.Tensor) => tf.sum(tf.mul(logSumExpRows(t as tf.Tensor2D), w));
    const f2 = (t: tf.Tensor) => tf.sum(tf.mul(tf.logSumExp(t, 1), w));
    assert.ok(maxAbsDiff(logSumExpRows(x).dataSync(), tf.logSumExp(x, 1).dataSync()) < 1e-4);
    const g1 = tf.grad(f1)(x);
    const g2 = tf.grad(f2)(x);
    assert.ok(maxAbsDiff(g1.dataSync(), g2.dataSync()) < 1e-5);
    assert.ok(Number.isFinite(logSumExpRows(tf.fill([1, 3], 1e4) as tf.Tensor2D).dataSync()[0]));
    tf.dispose([x, w, g1, g2]);
  });

  it("over blocks side by side equals it over their concatenation, values and each block's gradient", () => {
    const rng = new Random(3);
    const blocks = [
      [5, 1],
      [5, 7],
      [5, 3],
    ].map((shape) => tf.mul(randn(rng, shape), tf.scalar(10)) as tf.Tensor2D);
    const w = randn(rng, [5]);
    const whole = (...xs: tf.Tensor[]) => tf.sum(tf.mul(tf.logSumExp(tf.concat(xs, 1), 1), w));
    const split = (...xs: tf.Tensor[]) => tf.sum(tf.mul(logSumExpRows(...(xs as tf.Tensor2D[])), w));
    assert.ok(maxAbsDiff(logSumExpRows(...blocks).dataSync(), tf.logSumExp(tf.concat(blocks, 1), 1).dataSync()) < 1e-4);
    const want = tf.grads(whole)(blocks);
    const got = tf.grads(split)(blocks);
    got.forEach((g, i) => {
      assert.deepEqual(g.shape, blocks[i].shape);
      assert.ok(maxAbsDiff(g.dataSync(), want[i].dataSync()) < 1e-5, `block ${i}`);
    });
    tf.dispose([...blocks, w, ...want, ...got]);
  });
});

describe('fused GRU recurrence', () => {
  for (const layers of [1, 2]) {
    it(`matches the op-by-op GRU in user vectors, loss and every gradient (${layers} layer${layers > 1 ? 's' : ''})`, () => {
      const cfg = { itemCount: 60, embeddingDim: 12, hiddenDim: 10, numLayers: layers, maxLen: 7, seed: 4 };
      const fused = new GRU4Rec({ ...cfg, recurrence: 'fused' });
      const ops = new GRU4Rec({ ...cfg, recurrence: 'ops' });
      const batch = randomTrainBatch(new Random(5), 9, 7, 60);
      const u1 = fused.userEmbeddings(batch);
      const u2 = ops.userEmbeddings(batch);
      assert.ok(maxAbsDiff(u1.dataSync(), u2.dataSync()) < 1e-5);
      const g1 = tf.variableGrads(() => fused.loss(batch), fused.trainableVariables());
      const g2 = tf.variableGrads(() => ops.loss(batch), ops.trainableVariables());
      assert.ok(Math.abs(g1.value.dataSync()[0] - g2.value.dataSync()[0]) < 1e-5);
      const names1 = fused.namedWeights();
      const names2 = ops.namedWeights();
      names1.forEach(({ name, variable }, i) => {
        const a = g1.grads[variable.name].dataSync();
        const b = g2.grads[names2[i].variable.name].dataSync();
        assert.ok(maxAbsDiff(a, b) < 1e-4, `gradient of ${name}: ${maxAbsDiff(a, b)}`);
      });
      tf.dispose([u1, u2, g1.value, g2.value, ...Object.values(g1.grads), ...Object.values(g2.grads)]);
      fused.dispose();
      ops.dispose();
    });
  }
});

describe('Tanh override', () => {
  it('equals Math.tanh to 1e-6 over large, small, negative and zero inputs, in any length', () => {
    const rng = new Random(12);
    for (const n of [1, 7, 8, 4099, 70001]) {
      const values = Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0 : i % 7 === 0 ? 1e-5 * rng.normal() : 6 * rng.normal()));
      values[0] = -0;
      if (n > 3) [values[1], values[2], values[3]] = [40, -40, 1e-30];
      const got = tf.tanh(tf.tensor1d(values));
      const want = Array.from(values, (v) => Math.tanh(v));
      assert.ok(maxAbsDiff(got.dataSync(), want) < 1e-6, `n=${n}: ${maxAbsDiff(got.dataSync(), want)}`);
      tf.dispose(got);
    }
  });
});

describe('Sum and Mean gradients', () => {
  it('broadcast dy back over the reduced axes (any axes, with and without keepDims)', () => {
    const x = tf.tensor3d(
      Float32Array.from({ length: 24 }, (_, i) => i),
      [2, 3, 4],
    );
    for (const [axis, keepDims] of [
      [1, false],
      [[0, 2], true],
      [-1, false],
    ] as [number | number[], boolean][]) {
      const dy = (t: tf.Tensor) => tf.mul(t, tf.reshape(tf.range(1, t.size + 1), t.shape));
      const gSum = tf.grad((t: tf.Tensor) => tf.sum(dy(tf.sum(t, axis, keepDims))))(x);
      const gMean = tf.grad((t: tf.Tensor) => tf.sum(dy(tf.mean(t, axis, keepDims))))(x);
      // Reference: the weight of each output that x[i, j, l] feeds (the output's index + 1).
      const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a + 3) % 3);
      const outShape = [2, 3, 4].map((d, i) => (axes.includes(i) ? 1 : d));
      const count = axes.reduce((p, a) => p * [2, 3, 4][a], 1);
      const want: number[] = [];
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 3; j++)
          for (let l = 0; l < 4; l++) {
            const idx = [i, j, l].map((v, a) => (axes.includes(a) ? 0 : v));
            want.push(1 + (idx[0] * outShape[1] + idx[1]) * outShape[2] + idx[2]);
          }
      assert.deepEqual([...gSum.dataSync()], want, `sum over ${axis}`);
      assert.ok(
        maxAbsDiff(
          gMean.dataSync(),
          want.map((w) => w / count),
        ) < 1e-6,
        `mean over ${axis}`,
      );
      tf.dispose([gSum, gMean]);
    }
    x.dispose();
  });
});

describe('Identity override (clones share memory)', () => {
  it('a clone reads as its source, costs no copy on wasm, and keeps its values when the variable is updated in place', async () => {
    const { updateInPlace } = await import('../../src/backend/memory.js');
    const init = tf.tensor([1, 2, 3]);
    const v = tf.variable(init, true, 'identity_shared');
    init.dispose();
    const clone = tf.clone(v);
    assert.deepEqual([...clone.dataSync()], [1, 2, 3]);
    if (tf.getBackend() === 'wasm') assert.equal(tf.engine().backend.refCount(v.dataId), 2, 'the clone shares the memory');
    updateInPlace(v, (values) => values.fill(7));
    assert.deepEqual([...v.dataSync()], [7, 7, 7]);
    assert.deepEqual([...clone.dataSync()], [1, 2, 3], 'the clone keeps its values');
    assert.equal(tf.engine().backend.refCount(v.dataId), 1, 'the variable has its own memory now');
    tf.dispose([v, clone]);
  });

  it('gradients that keep tensors for the backward pass are unchanged (values and grads of a softmax chain)', () => {
    const x = tf.tensor2d([
      [0.5, -1, 2],
      [3, 0, -0.25],
    ]);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.softmax(tf.mul(t, t)), tf.exp(t)));
    const grad = tf.grad(f)(x);
    // The same chain by hand: d/dx Σ softmax(x²)·e^x.
    const rows = x.arraySync() as number[][];
    const want = rows.map((r) => {
      const s = r.map((a) => Math.exp(a * a));
      const z = s.reduce((a, b) => a + b, 0);
      const p = s.map((a) => a / z);
      const e = r.map(Math.exp);
      const pe = p.reduce((acc, pi, i) => acc + pi * e[i], 0);
      return r.map((a, i) => p[i] * e[i] + 2 * a * p[i] * (e[i] - pe));
    });
    assert.ok(maxAbsDiff(grad.dataSync(), want.flat()) < 1e-4);
    tf.dispose([x, grad]);
  });
});
