import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/util/random.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { embeddingLookup, scatterAddRows } from '../../src/ops/embedding.js';
import { batchOf, maxAbsDiff, randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

function userVectors(model: GRU4Rec, histories: number[][], maxLen: number): Float32Array {
  const t = model.userEmbeddings(batchOf(histories, maxLen));
  assert.deepEqual(t.shape, [histories.length, 1, model.embeddingDim]);
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

/** The GRU written out from its equations in plain JS (PyTorch layout, reset after). */
function referenceGRU(model: GRU4Rec, history: number[]): Float64Array {
  const w = new Map(model.namedWeights().map(({ name, variable }) => [name, variable.dataSync() as Float32Array]));
  const d = model.embeddingDim;
  const h = model.config.hiddenDim;
  const table = w.get('item_embeddings')!;
  const [wi, bi, wh, bh] = ['wi', 'bi', 'wh', 'bh'].map((k) => w.get(`gru0/${k}`)!);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  let state = new Float64Array(h);
  for (const item of history) {
    const x = table.subarray(item * d, item * d + d);
    const gx = new Float64Array(3 * h);
    const gh = new Float64Array(3 * h);
    for (let j = 0; j < 3 * h; j++) {
      gx[j] = bi[j];
      gh[j] = bh[j];
      for (let i = 0; i < d; i++) gx[j] += x[i] * wi[i * 3 * h + j];
      for (let i = 0; i < h; i++) gh[j] += state[i] * wh[i * 3 * h + j];
    }
    const next = new Float64Array(h);
    for (let j = 0; j < h; j++) {
      const r = sig(gx[j] + gh[j]);
      const z = sig(gx[h + j] + gh[h + j]);
      const n = Math.tanh(gx[2 * h + j] + r * gh[2 * h + j]);
      next[j] = (1 - z) * n + z * state[j];
    }
    state = next;
  }
  return state;
}

describe('GRU4Rec', () => {
  it('matches the GRU equations computed by hand', () => {
    const model = new GRU4Rec({ itemCount: 30, embeddingDim: 8, maxLen: 6, seed: 3 });
    const histories = [[4, 9, 1], [29, 2, 2, 7, 15, 11], [5]];
    const got = userVectors(model, histories, 6);
    histories.forEach((hist, row) => {
      const want = referenceGRU(model, hist);
      assert.ok(maxAbsDiff(got.subarray(row * 8, row * 8 + 8), want) < 1e-5, `row ${row}`);
    });
    model.dispose();
  });

  it('padding does not change the user vector (window length and batch-mates)', () => {
    const model = new GRU4Rec({ itemCount: 50, embeddingDim: 16, maxLen: 20, seed: 1 });
    const hist = [3, 17, 42, 8];
    const alone5 = userVectors(model, [hist], 5);
    const alone20 = userVectors(model, [hist], 20);
    const withOthers = userVectors(model, [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], hist, [49]], 20).subarray(16, 32);
    assert.ok(maxAbsDiff(alone5, alone20) < 1e-6);
    assert.ok(maxAbsDiff(alone5, withOthers) < 1e-6);
    // ...and the vector is the state at the last real item, not after the padding:
    // a different last item must change it.
    const other = userVectors(model, [[3, 17, 42, 9]], 20);
    assert.ok(maxAbsDiff(alone20, other) > 1e-3);
    model.dispose();
  });

  it('keeps the most recent maxLen items of a long history', () => {
    const model = new GRU4Rec({ itemCount: 50, embeddingDim: 8, maxLen: 4, seed: 1 });
    const a = userVectors(model, [[1, 2, 3, 4, 5, 6]], 4);
    const b = userVectors(model, [[3, 4, 5, 6]], 4);
    assert.ok(maxAbsDiff(a, b) < 1e-7);
    model.dispose();
  });

  it('is reproducible under a seed and different across seeds', () => {
    const w = (seed: number) => {
      const m = new GRU4Rec({ itemCount: 20, embeddingDim: 4, maxLen: 3, seed });
      const v = m
        .namedWeights()
        .map(({ variable }) => [...(variable.dataSync() as Float32Array)])
        .flat();
      m.dispose();
      return v;
    };
    assert.deepEqual(w(7), w(7));
    assert.notDeepEqual(w(7), w(8));
  });

  it('keeps the padding row at zero and gives it no gradient', () => {
    const model = new GRU4Rec({ itemCount: 20, embeddingDim: 4, maxLen: 5, seed: 2 });
    const batch = randomTrainBatch(new Random(1), 8, 5, 20);
    const opt = tf.train.adam(0.01);
    for (let i = 0; i < 3; i++) opt.minimize(() => model.loss(batch), false, model.trainableVariables());
    const table = model.itemEmbeddings().dataSync();
    assert.deepEqual([...table.subarray(0, 4)], [0, 0, 0, 0]);
    opt.dispose();
    model.dispose();
  });

  it('learns a planted next-item rule (item i is followed by i+1)', () => {
    const n = 16;
    const model = new GRU4Rec({ itemCount: n + 1, embeddingDim: 16, maxLen: 5, seed: 5 });
    const rng = new Random(9);
    const makeBatch = () => {
      const histories: number[][] = [];
      const targets: number[] = [];
      for (let b = 0; b < 64; b++) {
        const len = 1 + rng.int(5);
        const start = 1 + rng.int(n);
        const h = Array.from({ length: len }, (_, i) => ((start - 1 + i) % n) + 1);
        histories.push(h);
        targets.push((h[h.length - 1] % n) + 1);
      }
      return { ...batchOf(histories, 5), targets: Int32Array.from(targets), users: new Int32Array(64) };
    };
    const opt = tf.train.adam(0.02);
    for (let step = 0; step < 150; step++) {
      const batch = makeBatch();
      opt.minimize(() => model.loss(batch), false, model.trainableVariables());
    }
    const test = makeBatch();
    const scores = tf.tidy(() => tf.matMul(tf.squeeze(model.userEmbeddings(test), [1]), model.itemEmbeddings(), false, true));
    const s = scores.arraySync() as number[][];
    scores.dispose();
    let correct = 0;
    s.forEach((row, i) => {
      const best = row.slice(1).reduce((bi, v, j, arr) => (v > arr[bi] ? j : bi), 0) + 1;
      if (best === test.targets[i]) correct++;
    });
    assert.ok(correct / 64 > 0.9, `top-1 accuracy ${correct / 64}`);
    opt.dispose();
    model.dispose();
  });

  it('does not leak tensors across training steps and inference calls', () => {
    const model = new GRU4Rec({ itemCount: 40, embeddingDim: 8, maxLen: 6, seed: 2 });
    const rng = new Random(3);
    const opt = tf.train.adam(0.01);
    const step = () => {
      const batch = randomTrainBatch(rng, 16, 6, 40);
      const c = opt.minimize(() => model.loss(batch), true, model.trainableVariables());
      c?.dispose();
      model.userEmbeddings(batch).dispose();
    };
    step(); // Adam creates its slots on the first step
    const before = tf.memory().numTensors;
    for (let i = 0; i < 30; i++) step();
    assert.equal(tf.memory().numTensors, before);
    opt.dispose();
    model.dispose();
  });

  it('rejects bad configs with the field named', () => {
    assert.throws(() => new GRU4Rec({ itemCount: 1 }), /itemCount/);
    assert.throws(() => new GRU4Rec({ itemCount: 10, embeddingDim: 0 }), /embeddingDim/);
    assert.throws(() => new GRU4Rec({ itemCount: 10, dropout: 1 }), /dropout/);
    assert.throws(() => new GRU4Rec({ itemCount: 10, numLayers: 0 }), /numLayers/);
  });
});

describe('embeddingLookup', () => {
  it('scatter-adds repeated rows', () => {
    const g = new Float32Array(6).fill(7); // stale values are overwritten
    scatterAddRows(g, Float32Array.from([1, 2, 3, 4, 5, 6]), Int32Array.from([2, 0, 2]), 2);
    assert.deepEqual([...g], [3, 4, 0, 0, 1 + 5, 2 + 6]);
  });

  it('has the same value and gradient as a one-hot matmul', () => {
    const rng = new Random(4);
    const table = tf.tensor2d(
      Float32Array.from({ length: 10 * 3 }, () => rng.normal()),
      [10, 3],
    );
    const idx = tf.tensor2d([1, 4, 4, 9, 0, 1], [2, 3], 'int32');
    const weights = tf.tensor3d(
      Float32Array.from({ length: 18 }, () => rng.normal()),
      [2, 3, 3],
    );
    const f1 = (t: tf.Tensor) => tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, idx), weights));
    const f2 = (t: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.oneHot(tf.reshape(idx, [-1]), 10), t as tf.Tensor2D), [2, 3, 3]), weights));
    const g1 = tf.grad(f1)(table);
    const g2 = tf.grad(f2)(table);
    assert.ok(maxAbsDiff(f1(table).dataSync(), f2(table).dataSync()) < 1e-5);
    assert.ok(maxAbsDiff(g1.dataSync(), g2.dataSync()) < 1e-5);
    tf.dispose([table, idx, weights, g1, g2]);
  });
});

describe('GRU4Rec outputBias (the official By)', () => {
  const D = 4;
  const N = 7;
  const bias = [0, 0.3, -0.2, 0.5, 0.1, -0.4, 0.2];
  function biasedModel(): GRU4Rec {
    const model = new GRU4Rec({ itemCount: N, embeddingDim: D, maxLen: 3, seed: 5, outputBias: true });
    const t = model.itemEmbeddings().dataSync() as Float32Array;
    for (let j = 0; j < N; j++) assert.equal(t[j * (D + 1) + D], 0, `bias of ${j} starts at 0`);
    const values = Float32Array.from(t);
    for (let j = 1; j < N; j++) values[j * (D + 1) + D] = bias[j];
    (model.itemEmbeddings() as tf.Variable).assign(tf.tensor2d(values, [N, D + 1]));
    return model;
  }
  const batch = { ...batchOf([[1, 2], [3], [6, 5, 4]], 3), targets: Int32Array.of(2, 5, 1), users: Int32Array.of(0, 1, 2) };

  it('the bias column is not an input: user = [GRU state of the D input columns, 1]', () => {
    const model = biasedModel();
    assert.equal(model.embeddingDim, D + 1);
    const plain = new GRU4Rec({ itemCount: N, embeddingDim: D, maxLen: 3, seed: 9 });
    const weights = new Map(model.namedWeights().map(({ name, variable }) => [name, { shape: variable.shape, data: variable.dataSync() as Float32Array }]));
    const table = weights.get('item_embeddings')!.data;
    weights.set('item_embeddings', { shape: [N, D], data: Float32Array.from({ length: N * D }, (_, i) => table[Math.floor(i / D) * (D + 1) + (i % D)]) });
    plain.setNamedWeights(weights);
    const withBias = userVectors(model, [[1, 2], [3]], 3);
    const without = userVectors(plain, [[1, 2], [3]], 3);
    for (let r = 0; r < 2; r++) {
      assert.ok(maxAbsDiff(withBias.subarray(r * (D + 1), r * (D + 1) + D), without.subarray(r * D, r * D + D)) < 1e-6);
      assert.equal(withBias[r * (D + 1) + D], 1);
    }
    plain.dispose();
    model.dispose();
  });

  it('full softmax: loss and bias gradient equal the hand formula (and finite differences)', () => {
    const model = biasedModel();
    const u = userVectors(model, [[1, 2], [3], [6, 5, 4]], 3);
    const t = model.itemEmbeddings().dataSync() as Float32Array;
    // score_bj = u_b · e_j + b_j over items 1..N-1 (padding excluded); grad b_j = mean_b (p_bj − [j = t_b]).
    const wantGrad = new Float64Array(N);
    let wantLoss = 0;
    for (let b = 0; b < 3; b++) {
      const s = Array.from({ length: N }, (_, j) => {
        let v = bias[j];
        for (let i = 0; i < D; i++) v += u[b * (D + 1) + i] * t[j * (D + 1) + i];
        return v;
      });
      const z = s.slice(1).reduce((a, v) => a + Math.exp(v), 0);
      wantLoss += (Math.log(z) - s[batch.targets[b]]) / 3;
      for (let j = 1; j < N; j++) wantGrad[j] += (Math.exp(s[j]) / z - (j === batch.targets[b] ? 1 : 0)) / 3;
    }
    const table = model.itemEmbeddings() as tf.Variable;
    const { value, grads } = tf.variableGrads(() => model.loss(batch), [table]);
    assert.ok(Math.abs(value.dataSync()[0] - wantLoss) < 1e-5, `${value.dataSync()[0]} vs ${wantLoss}`);
    const g = grads[table.name].dataSync();
    const gotGrad = Array.from({ length: N }, (_, j) => g[j * (D + 1) + D]);
    assert.ok(maxAbsDiff(gotGrad, wantGrad) < 1e-5, `${gotGrad} vs ${[...wantGrad]}`);
    tf.dispose([value, ...Object.values(grads)]);
    // Central difference on b_3.
    const h = 1e-2;
    const at = (delta: number) => {
      const v = Float32Array.from(t);
      v[3 * (D + 1) + D] += delta;
      table.assign(tf.tensor2d(v, [N, D + 1]));
      return tf.tidy(() => model.loss(batch).dataSync()[0]);
    };
    const fd = (at(h) - at(-h)) / (2 * h);
    assert.ok(Math.abs(fd - wantGrad[3]) < 1e-3, `finite difference ${fd} vs ${wantGrad[3]}`);
    model.dispose();
  });

  it('sessionStep scores with the bias too: user = [state, 1]', () => {
    const model = biasedModel();
    const out = model.sessionStep(Int32Array.of(1, 3), [tf.zeros([2, D]) as tf.Tensor2D], Float32Array.of(1, 1));
    assert.deepEqual(out.user.shape, [2, D + 1]);
    const u = out.user.dataSync();
    assert.equal(u[D], 1);
    assert.equal(u[2 * D + 1], 1);
    tf.dispose([out.user, ...out.states]);
    model.dispose();
  });

  it('rejects a non-boolean outputBias', () => {
    assert.throws(() => new GRU4Rec({ itemCount: N, outputBias: 1 as never }), /outputBias/);
  });
});

describe('GRU4Rec dropout placement (official: dropout_p_embed once, dropout_p_hidden per layer)', () => {
  // Count the dropout draws of one training forward pass: B·L·D for the input mask, plus
  // B·L·H per hidden mask passed up and B·H for the last layer's scored state.
  function drawsOf(config: { dropout: number; hiddenDropout: number }): number {
    const opts = { itemCount: 20, embeddingDim: 3, hiddenDim: 3, maxLen: 4, seed: 8, numLayers: 2, ...config };
    const a = new GRU4Rec(opts);
    const b = new GRU4Rec(opts);
    tf.tidy(() =>
      a.userEmbeddings(
        batchOf(
          [
            [1, 2, 3],
            [4, 5],
          ],
          4,
        ),
        { training: true },
      ),
    );
    const next = a.trainRng.next();
    let n = 0;
    while (b.trainRng.next() !== next) if (++n > 1000) throw new Error('not found');
    a.dispose();
    b.dispose();
    return n;
  }
  it('dropout masks the input embeddings only, not the input of layer 2', () => {
    assert.equal(drawsOf({ dropout: 0.5, hiddenDropout: 0 }), 2 * 4 * 3);
  });
  it('hiddenDropout masks each layer output once', () => {
    assert.equal(drawsOf({ dropout: 0, hiddenDropout: 0.5 }), 2 * 4 * 3 + 2 * 3);
    assert.equal(drawsOf({ dropout: 0.5, hiddenDropout: 0.5 }), 2 * 4 * 3 + 2 * 4 * 3 + 2 * 3);
  });
});
