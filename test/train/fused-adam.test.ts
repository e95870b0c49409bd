/**
 * FusedAdam (in place, native or JavaScript) against `tf.train.adam`, and row-wise Adam's native
 * kernel against its JavaScript loop.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { nativeAddon, nativeStatus } from '../../src/backend/native.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { FusedAdam } from '../../src/train/fused-adam.js';
import { RowSparseAdam } from '../../src/train/row-adam.js';
import { Random } from '../../src/util/random.js';
import { randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

const SHAPES: number[][] = [[37, 5], [300], [2, 3, 4], [1]];
const NO_NATIVE = nativeAddon() ? false : `native addon not loaded (${nativeStatus().loaded ? '' : (nativeStatus() as { reason: string }).reason})`;

function gaussian(rng: Random, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => scale * (rng.next() + rng.next() + rng.next() - 1.5));
}

/** Variables of SHAPES with the same random start for every run. */
function variables(tag: string): tf.Variable[] {
  const rng = new Random(7);
  return SHAPES.map((shape, i) =>
    tf.variable(
      tf.tensor(
        gaussian(
          rng,
          shape.reduce((a, b) => a * b, 1),
          1,
        ),
        shape,
      ),
      true,
      `${tag}_${i}`,
    ),
  );
}

/** TF.js's Adam keeps moments by position: a variable without a gradient this step is a null entry. */
function withSkips(grads: { name: string; tensor: tf.Tensor; skip: boolean }[]): { name: string; tensor: tf.Tensor }[] {
  return grads.map(({ name, tensor, skip }) => ({ name, tensor: skip ? (null as unknown as tf.Tensor) : tensor }));
}

/** Runs `steps` steps of `opt` on random gradients (same stream each run); returns the final values. */
function run(opt: tf.Optimizer, tag: string, steps: number, onStep?: (s: number) => void): Float32Array[] {
  const vars = variables(tag);
  const rng = new Random(11);
  for (let s = 0; s < steps; s++) {
    // Gradients of varying scale, some exactly zero, one variable skipped now and then.
    const grads = vars.map((v, i) => ({
      name: v.name,
      tensor: tf.tensor(gaussian(rng, v.size, s % 7 === 0 ? 1e-4 : 1 + (s % 3)), v.shape),
      skip: i === 2 && s % 5 === 4,
    }));
    opt.applyGradients(withSkips(grads));
    tf.dispose(grads.map((g) => g.tensor));
    onStep?.(s);
  }
  const out = vars.map((v) => (v.dataSync() as Float32Array).slice());
  tf.dispose(vars);
  return out;
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((x, i) => x.forEach((value, k) => (worst = Math.max(worst, Math.abs(value - b[i][k])))));
  return worst;
}

describe('FusedAdam', () => {
  it('matches tf.train.adam over 60 steps (JavaScript loop)', () => {
    const reference = tf.train.adam(0.01);
    const want = run(reference, 'ref', 60);
    reference.dispose();
    const fused = new FusedAdam(0.01, 0.9, 0.999, null, { native: false });
    const got = run(fused, 'js', 60);
    const diff = maxDiff(got, want);
    assert.ok(diff <= 1e-5, `max |fused - tf.train.adam| = ${diff}`);
    // Same float32 operations in the same order: on the cpu and wasm backends, the same bits.
    if (['cpu', 'wasm'].includes(tf.getBackend())) assert.equal(diff, 0);
  });

  it('custom beta1, beta2, epsilon as tf.train.adam', () => {
    const reference = tf.train.adam(3e-3, 0.8, 0.99, 1e-5);
    const want = run(reference, 'ref2', 50);
    reference.dispose();
    const got = run(new FusedAdam(3e-3, 0.8, 0.99, 1e-5, { native: false }), 'js2', 50);
    assert.ok(maxDiff(got, want) <= 1e-5);
  });

  it('native kernel and JavaScript loop agree', { skip: NO_NATIVE }, () => {
    const js = run(new FusedAdam(0.01, 0.9, 0.999, null, { native: false }), 'a', 60);
    const fused = new FusedAdam(0.01, 0.9, 0.999, null, { native: true });
    assert.ok(fused.isNative);
    const native = run(fused, 'b', 60);
    const diff = maxDiff(native, js);
    assert.ok(diff <= 1e-6, `max |native - js| = ${diff}`);
    assert.equal(diff, 0, 'native/optim.c does the same float32 operations');
  });

  it('native kernel on a table above the OpenMP threshold agrees with the loop', { skip: NO_NATIVE }, () => {
    const rng = new Random(3);
    const n = 12103 * 16;
    const start = gaussian(rng, n, 1);
    const results = [false, true].map((native) => {
      const v = tf.variable(tf.tensor(start, [12103, 16]), true, `big_${native}`);
      const opt = new FusedAdam(1e-3, 0.9, 0.999, null, { native });
      const g = new Random(5);
      for (let s = 0; s < 5; s++) {
        const grad = tf.tensor(gaussian(g, n, 1), v.shape);
        opt.applyGradients({ [v.name]: grad });
        grad.dispose();
      }
      const out = (v.dataSync() as Float32Array).slice();
      v.dispose();
      return [out];
    });
    assert.equal(maxDiff(results[0], results[1]), 0);
  });

  it('getWeights/setWeights round trip: a restored optimizer continues identically, also from tf.train.adam', async () => {
    const straight = run(new FusedAdam(0.01, 0.9, 0.999, null, { native: false }), 's', 40);
    for (const First of ['fused', 'tfjs'] as const) {
      const vars = variables(`r_${First}`);
      const rng = new Random(11);
      const step = (opt: tf.Optimizer, s: number): void => {
        const grads = vars.map((v, i) => ({
          name: v.name,
          tensor: tf.tensor(gaussian(rng, v.size, s % 7 === 0 ? 1e-4 : 1 + (s % 3)), v.shape),
          skip: i === 2 && s % 5 === 4,
        }));
        opt.applyGradients(withSkips(grads));
        tf.dispose(grads.map((g) => g.tensor));
      };
      const first: tf.Optimizer = First === 'fused' ? new FusedAdam(0.01, 0.9, 0.999, null, { native: false }) : tf.train.adam(0.01);
      for (let s = 0; s < 20; s++) step(first, s);
      const saved = await first.getWeights();
      assert.equal(saved[0].name, 'iter');
      assert.equal(saved[0].tensor.dataSync()[0], 20);
      assert.deepEqual(
        saved.slice(1).map((w) => w.name),
        [...vars.map((v) => `${v.name}/m`), ...vars.map((v) => `${v.name}/v`)],
      );
      const copies = saved.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
      if (First === 'fused') tf.dispose(saved.map((w) => w.tensor));
      first.dispose();
      const second = new FusedAdam(0.01, 0.9, 0.999, null, { native: false });
      await second.setWeights(copies);
      tf.dispose(copies.map((w) => w.tensor));
      assert.equal(second.iterations, 20);
      for (let s = 20; s < 40; s++) step(second, s);
      const got = vars.map((v) => (v.dataSync() as Float32Array).slice());
      // accBeta comes back as a pow, not the running product: last bits may differ.
      assert.ok(maxDiff(got, straight) <= 1e-5, `${First}: ${maxDiff(got, straight)}`);
      tf.dispose(vars);
    }
  });

  it('updates a variable in place without writing through tensors that share its data', () => {
    const init = tf.tensor([1, 2, 3]);
    const v = tf.variable(init, true, 'shared_init');
    const alias = tf.clone(v);
    const opt = new FusedAdam(0.1, 0.9, 0.999, null, { native: false });
    opt.applyGradients({ [v.name]: tf.ones([3]) });
    assert.deepEqual([...init.dataSync()], [1, 2, 3]);
    assert.deepEqual([...alias.dataSync()], [1, 2, 3]);
    assert.ok(v.dataSync()[0] < 1);
    tf.dispose([init, alias, v]);
  });

  it('trains a model as tf.train.adam does (minimize; weights read by matmuls between steps)', () => {
    const train = (opt: tf.Optimizer): { losses: number[]; weights: Float32Array[] } => {
      const model = new GRU4Rec({ itemCount: 60, embeddingDim: 8, maxLen: 5, seed: 1 });
      const rng = new Random(1);
      const losses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const cost = opt.minimize(() => model.loss(randomTrainBatch(rng, 16, 5, 60)), true, model.trainableVariables())!;
        losses.push(cost.dataSync()[0]);
        cost.dispose();
      }
      const weights = model.trainableVariables().map((v) => (v.dataSync() as Float32Array).slice());
      opt.dispose();
      model.dispose();
      return { losses, weights };
    };
    const want = train(tf.train.adam(0.01));
    for (const native of NO_NATIVE ? [false] : [false, true]) {
      const got = train(new FusedAdam(0.01, 0.9, 0.999, null, { native }));
      assert.deepEqual(got.losses, want.losses, `native: ${native}`);
      assert.equal(maxDiff(got.weights, want.weights), 0, `native: ${native}`);
    }
  });

  it('keeps the tensor count flat over many training steps (minimize)', () => {
    const model = new GRU4Rec({ itemCount: 60, embeddingDim: 8, maxLen: 5, seed: 1 });
    const opt = new FusedAdam(0.01);
    const rng = new Random(1);
    const step = (): void => {
      const cost = opt.minimize(() => model.loss(randomTrainBatch(rng, 16, 5, 60)), true, model.trainableVariables());
      cost!.dispose();
    };
    step();
    const after1 = tf.memory();
    for (let i = 0; i < 300; i++) step();
    assert.equal(tf.memory().numTensors, after1.numTensors);
    assert.equal(tf.memory().numBytes, after1.numBytes);
    opt.dispose();
    model.dispose();
  });
});

describe('RowSparseAdam: native kernel and JavaScript loop', () => {
  it('agree over 50 steps of random row sets', { skip: NO_NATIVE }, () => {
    const rows = 5000;
    const dim = 24;
    const start = gaussian(new Random(2), rows * dim, 1);
    const out = [false, true].map((native) => {
      const table = tf.variable(tf.tensor2d(start, [rows, dim]), true, `rows_${native}`);
      const adam = new RowSparseAdam(table, 0.01, 0.9, 0.999, undefined, { native });
      const rng = new Random(9);
      for (let s = 0; s < 50; s++) {
        // Distinct ascending rows, as RowGradientCapture gives them; some steps above the OpenMP threshold.
        const count = s % 10 === 0 ? 4000 : 1 + rng.int(300);
        const picked = new Set<number>();
        while (picked.size < count) picked.add(rng.int(rows));
        const indices = Int32Array.from(picked).sort();
        adam.apply({ indices, values: gaussian(rng, count * dim, 1 + (s % 3)), dim });
      }
      const values = (table.dataSync() as Float32Array).slice();
      table.dispose();
      return [values];
    });
    const diff = maxDiff(out[0], out[1]);
    assert.ok(diff <= 1e-6, `max |native - js| = ${diff}`);
    assert.equal(diff, 0, 'native/optim.c does the same double operations');
  });
});
