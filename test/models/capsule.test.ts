import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/util/random.js';
import { interestSimilarity, labelAwareAttention, readoutPower } from '../../src/models/layers/attention.js';
import { couplingCoefficients, dynamicRouting, squash } from '../../src/models/layers/capsule.js';
import { maxAbsDiff, setupBackend } from '../helpers.js';
import { referenceRouting } from './reference.js';

before(setupBackend);

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const randn = (rng: Random, n: number, std = 1) => Float32Array.from({ length: n }, () => rng.normal() * std);

describe('squash', () => {
  it('maps to norm < 1, keeps the direction, and matches |s|²/(1+|s|²)', () => {
    const rng = new Random(1);
    for (const scale of [1e-3, 0.3, 1, 5, 100]) {
      const s = randn(rng, 8, scale);
      const v = squash(tf.tensor1d(s));
      const out = v.dataSync();
      v.dispose();
      const ns = norm(s);
      const nv = norm(out);
      assert.ok(nv < 1, `norm ${nv} at scale ${scale}`);
      assert.ok(Math.abs(nv - (ns * ns) / (1 + ns * ns)) < 1e-5, `norm ${nv} vs ${(ns * ns) / (1 + ns * ns)}`);
      let cos = 0;
      for (let j = 0; j < 8; j++) cos += (s[j] * out[j]) / (ns * nv);
      assert.ok(cos > 0.99999, `cosine ${cos}`);
    }
  });

  it('maps 0 to 0 (epsilon under the root)', () => {
    const v = squash(tf.zeros([2, 3]));
    assert.deepEqual([...v.dataSync()], [0, 0, 0, 0, 0, 0]);
    v.dispose();
  });

  it('sharpened squash: norm (|s|²/(1+|s|²))^p < 1, same direction, longer than the plain squash for p < 1', () => {
    const rng = new Random(2);
    const s = randn(rng, 6, 0.5);
    const ns = norm(s);
    const plain = norm(squash(tf.tensor1d(s)).dataSync());
    for (const p of [0.25, 0.5]) {
      const out = squash(tf.tensor1d(s), p).dataSync();
      const nv = norm(out);
      assert.ok(Math.abs(nv - Math.pow((ns * ns) / (1 + ns * ns), p)) < 1e-5);
      assert.ok(nv < 1 && nv > plain);
      for (let j = 0; j < 6; j++) assert.ok(Math.abs(out[j] / nv - s[j] / ns) < 1e-5);
    }
  });

  it('has finite gradients at s = 0, sharpened too (empty capsules must not poison training)', () => {
    for (const p of [1, 0.5]) {
      const g = tf.grad((x: tf.Tensor) => tf.sum(squash(x, p)))(tf.tensor2d([0, 0, 0, 1, 2, 3], [2, 3]));
      assert.ok(g.dataSync().every(Number.isFinite), `p=${p}: ${g.dataSync()}`);
      g.dispose();
    }
  });

  it('works over the last axis of a batch', () => {
    const x = tf.tensor3d([3, 4, 0, 0, 1, 0], [1, 3, 2]);
    const out = squash(x).arraySync() as number[][][];
    assert.ok(Math.abs(out[0][0][0] - (25 / 26) * 0.6) < 1e-6);
    assert.deepEqual(out[0][1], [0, 0]);
    assert.ok(Math.abs(out[0][2][0] - 0.5) < 1e-6);
  });
});

describe('coupling coefficients', () => {
  it('sum to 1 over the K interests at every real position and are 0 at padding', () => {
    const rng = new Random(3);
    const [b, k, l] = [3, 4, 6];
    const logits = tf.tensor3d(randn(rng, b * k * l, 2), [b, k, l]);
    const mask = tf.tensor2d([1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [b, l]);
    const c = couplingCoefficients(logits, mask).arraySync() as number[][][];
    const m = mask.arraySync() as number[][];
    for (let r = 0; r < b; r++) {
      for (let i = 0; i < l; i++) {
        const sum = c[r].reduce((a, row) => a + row[i], 0);
        if (m[r][i]) assert.ok(Math.abs(sum - 1) < 1e-6, `row ${r} position ${i}: ${sum}`);
        else for (let kk = 0; kk < k; kk++) assert.equal(c[r][kk][i], 0);
      }
    }
    tf.dispose([logits, mask]);
  });

  it('sum to 1 over the capsules in use when some are switched off, which get 0', () => {
    const logits = tf.tensor3d(randn(new Random(4), 2 * 3 * 2), [2, 3, 2]);
    const mask = tf.ones([2, 2]) as tf.Tensor2D;
    const capsules = tf.tensor2d([1, 1, 0, 1, 0, 0], [2, 3]);
    const c = couplingCoefficients(logits, mask, capsules).arraySync() as number[][][];
    for (let i = 0; i < 2; i++) {
      assert.ok(Math.abs(c[0][0][i] + c[0][1][i] - 1) < 1e-6);
      assert.equal(c[0][2][i], 0);
      assert.ok(Math.abs(c[1][0][i] - 1) < 1e-6);
      assert.equal(c[1][1][i] + c[1][2][i], 0);
    }
    tf.dispose([logits, mask, capsules]);
  });

  it('in every routing iteration, not only the first', () => {
    const rng = new Random(5);
    const u = tf.tensor3d(randn(rng, 2 * 5 * 3), [2, 5, 3]);
    const logits = tf.tensor3d(randn(rng, 2 * 4 * 5), [2, 4, 5]);
    const mask = tf.tensor2d([1, 1, 1, 1, 0, 1, 0, 0, 0, 0], [2, 5]);
    const { coupling } = dynamicRouting({ predictions: u, logits, mask }, { iterations: 3 });
    assert.equal(coupling.length, 3);
    for (const c of coupling) {
      const sums = tf.sum(c, 1).arraySync() as number[][];
      assert.deepEqual(
        sums.map((row) => row.map((x) => Math.round(x * 1e5) / 1e5)),
        [
          [1, 1, 1, 1, 0],
          [1, 0, 0, 0, 0],
        ],
      );
    }
    tf.dispose([u, logits, mask, ...coupling]);
  });
});

describe('dynamicRouting', () => {
  it('matches the equations computed by hand (shared map, 3 iterations, padding)', () => {
    const rng = new Random(6);
    const [b, k, l, d] = [2, 3, 4, 5];
    const uv = randn(rng, b * l * d);
    const bv = randn(rng, b * k * l);
    const mask = [1, 1, 1, 0, 1, 1, 0, 0];
    const out = tf.tidy(
      () =>
        dynamicRouting({ predictions: tf.tensor3d(uv, [b, l, d]), logits: tf.tensor3d(bv, [b, k, l]), mask: tf.tensor2d(mask, [b, l]) }, { iterations: 3 })
          .capsules,
    );
    const got = out.dataSync();
    out.dispose();
    for (let r = 0; r < b; r++) {
      const u = (_k: number, i: number) => Float64Array.from(uv.subarray((r * l + i) * d, (r * l + i + 1) * d));
      const b0 = Array.from({ length: k }, (_, kk) => Array.from(bv.subarray((r * k + kk) * l, (r * k + kk + 1) * l)));
      const want = referenceRouting(u, b0, mask.slice(r * l, r * l + l), 3).v;
      assert.ok(
        maxAbsDiff(
          got.subarray(r * k * d, (r + 1) * k * d),
          want.flatMap((x) => [...x]),
        ) < 1e-5,
        `row ${r}`,
      );
    }
  });

  it('matches the equations computed by hand (per-interest predictions, sharpened squash, capsules switched off)', () => {
    const rng = new Random(7);
    const [b, k, l, d] = [2, 3, 5, 4];
    const uv = randn(rng, b * k * l * d);
    const mask = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
    const capsules = [1, 1, 1, 1, 1, 0];
    const out = tf.tidy(
      () =>
        dynamicRouting(
          {
            predictions: tf.tensor4d(uv, [b, k, l, d]),
            logits: tf.zeros([b, k, l]) as tf.Tensor3D,
            mask: tf.tensor2d(mask, [b, l]),
            capsuleMask: tf.tensor2d(capsules, [b, k]),
          },
          { iterations: 3, sharpenPower: 0.5 },
        ).capsules,
    );
    const got = out.dataSync();
    out.dispose();
    for (let r = 0; r < b; r++) {
      const u = (kk: number, i: number) => Float64Array.from(uv.subarray(((r * k + kk) * l + i) * d, ((r * k + kk) * l + i + 1) * d));
      const b0 = Array.from({ length: k }, () => new Array<number>(l).fill(0));
      const want = referenceRouting(u, b0, mask.slice(r * l, r * l + l), 3, 0.5, capsules.slice(r * k, r * k + k)).v;
      assert.ok(
        maxAbsDiff(
          got.subarray(r * k * d, (r + 1) * k * d),
          want.flatMap((x) => [...x]),
        ) < 1e-5,
        `row ${r}`,
      );
    }
    // Row 1's switched-off capsule routes nothing.
    assert.deepEqual([...got.subarray((k + 2) * d, (k + 3) * d)], [0, 0, 0, 0]);
  });

  it('lets gradient through the last iteration only: d/dû equals the gradient with the final coefficients held constant', () => {
    const rng = new Random(8);
    const [b, k, l, d] = [1, 2, 3, 2];
    const u = tf.tensor3d(randn(rng, b * l * d), [b, l, d]);
    const logits = tf.tensor3d(randn(rng, b * k * l), [b, k, l]);
    const mask = tf.ones([b, l]) as tf.Tensor2D;
    const w = tf.tensor3d(randn(rng, b * k * d), [b, k, d]);
    const routed = (x: tf.Tensor) => tf.sum(tf.mul(dynamicRouting({ predictions: x as tf.Tensor3D, logits, mask }, { iterations: 3 }).capsules, w));
    const finalC = tf.tidy(() => dynamicRouting({ predictions: u, logits, mask }, { iterations: 3 }).coupling[2]);
    // With c fixed, v = squash(c û) and only that path carries gradient.
    const fixed = (x: tf.Tensor) => tf.sum(tf.mul(squash(tf.matMul(finalC, x as tf.Tensor3D)), w));
    const g1 = tf.grad(routed)(u);
    const g2 = tf.grad(fixed)(u);
    assert.ok(maxAbsDiff(g1.dataSync(), g2.dataSync()) < 1e-6);
    assert.ok(Math.max(...g1.dataSync().map(Math.abs)) > 1e-4);
    tf.dispose([u, logits, mask, w, finalC, g1, g2]);
  });
});

describe('label-aware attention', () => {
  const interests = [
    [1, 0, 0],
    [0, 2, 0],
    [0, 0, -3],
  ];
  const target = [1, 1, 1]; // scores 1, 2, -3

  it('hard: the interest with the largest inner product', () => {
    const out = labelAwareAttention(tf.tensor3d([interests]), tf.tensor2d([target]), { mode: 'hard', power: 2 });
    assert.deepEqual(out.arraySync(), [[0, 2, 0]]);
  });

  it('hard with interests switched off never picks them', () => {
    const out = labelAwareAttention(tf.tensor3d([interests]), tf.tensor2d([target]), { mode: 'hard', power: 2, active: tf.tensor2d([[1, 0, 1]]) });
    assert.deepEqual(out.arraySync(), [[1, 0, 0]]);
  });

  it('soft: softmax((V e)^p) V with the literal power (p = 2 rewards the -3 score most)', () => {
    const out = labelAwareAttention(tf.tensor3d([interests]), tf.tensor2d([target]), { mode: 'soft', power: 2 }).dataSync();
    const z = Math.exp(1) + Math.exp(4) + Math.exp(9);
    const want = [Math.exp(1) / z, (2 * Math.exp(4)) / z, (-3 * Math.exp(9)) / z];
    assert.ok(maxAbsDiff(out, want) < 1e-5);
    // Non-integer powers are sign-preserving: sign(x)|x|^p.
    assert.ok(maxAbsDiff(readoutPower(tf.tensor1d([-4, 9]), 0.5).dataSync(), [-2, 3]) < 1e-6);
  });
});

describe('interestSimilarity', () => {
  it('is the mean pairwise cosine over the interests in use', () => {
    const v = tf.tensor3d(
      [
        [
          [1, 0],
          [0, 1],
          [1, 1],
        ], // cosines 0, 1/√2, 1/√2 -> mean √2/3
        [
          [1, 0],
          [2, 0],
          [5, 5],
        ], // with the third off: cosine 1
      ],
      [2, 3, 2],
    );
    const active = tf.tensor2d([
      [1, 1, 1],
      [1, 1, 0],
    ]);
    const r = interestSimilarity(v, active).dataSync()[0];
    assert.ok(Math.abs(r - (Math.SQRT2 / 3 + 1) / 2) < 1e-5, `${r}`);
    tf.dispose([v, active]);
  });
});
