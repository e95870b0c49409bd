import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceBatch, TrainBatch } from '../../src/data/types.js';
import { SeqrecError } from '../../src/errors.js';
import { softmaxNormaliser } from '../../src/ops/log-sum-exp.js';
import { buildModel, createModel } from '../../src/models/registry.js';
import { DEFAULT_SASREC_CONFIG, normaliserInChunks, SASRec, sequenceTargets, type SASRecOptions } from '../../src/models/sasrec.js';
import { Random } from '../../src/util/random.js';
import { batchOf, maxAbsDiff, setupBackend } from '../helpers.js';

before(setupBackend);

const ITEMS = 20;
const BASE: SASRecOptions = { itemCount: ITEMS, embeddingDim: 8, maxLen: 10, dropout: 0, seed: 5 };

function trainBatch(histories: number[][], targets: number[], maxLen: number): TrainBatch {
  return { ...batchOf(histories, maxLen), targets: Int32Array.from(targets), users: Int32Array.from(histories, (_, i) => i) };
}

function users(model: SASRec, batch: SequenceBatch): Float32Array {
  return tf.tidy(() => model.userEmbeddings(batch).dataSync() as Float32Array).slice();
}

function outputs(model: SASRec, batch: SequenceBatch): Float32Array {
  return tf.tidy(() => model.sequenceOutput(batch).dataSync() as Float32Array).slice();
}

/** Moves every weight off its initial value, so zero biases and unit γ cannot hide a wrong wiring. */
function perturb(model: SASRec, seed: number): void {
  for (const { variable } of model.namedWeights())
    tf.tidy(() => variable.assign(tf.add(variable, tf.randomUniform(variable.shape, -0.2, 0.2, 'float32', seed++))));
}

describe('SASRec', () => {
  it('is registered with documented defaults and checks numHeads against embeddingDim', () => {
    const model = buildModel('sasrec', { itemCount: ITEMS });
    assert.ok(model instanceof SASRec);
    const c = (model as SASRec).getConfig();
    assert.deepEqual(
      { maxLen: c.maxLen, embeddingDim: c.embeddingDim, numBlocks: c.numBlocks, numHeads: c.numHeads, dropout: c.dropout },
      { maxLen: 200, embeddingDim: 64, numBlocks: 2, numHeads: 1, dropout: 0.2 },
    );
    assert.equal(c.positionOrigin, DEFAULT_SASREC_CONFIG.positionOrigin);
    model.dispose();
    assert.throws(
      () => createModel('sasrec', { itemCount: ITEMS, embeddingDim: 8, numHeads: 3 }),
      (e: unknown) => e instanceof SeqrecError && e.field === 'numHeads' && /must divide embeddingDim 8, got 3/.test(e.message),
    );
  });

  for (const positionOrigin of ['end', 'start'] as const) {
    describe(`positions from the ${positionOrigin}`, () => {
      it('a longer padding gives the same user vector (and the same outputs at real slots)', () => {
        const model = new SASRec({ ...BASE, numHeads: 2, positionOrigin });
        perturb(model, 1);
        const histories = [[3, 7, 1], [9], [4, 4, 12, 19, 2, 8]];
        const short = users(model, batchOf(histories, 6));
        const long = users(model, batchOf(histories, 10));
        assert.ok(maxAbsDiff(short, long) < 1e-5, `${maxAbsDiff(short, long)}`);
        const a = outputs(model, batchOf(histories, 6));
        const b = outputs(model, batchOf(histories, 10));
        const d = model.embeddingDim;
        histories.forEach((h, r) => {
          const real = h.length * d;
          assert.ok(maxAbsDiff(a.subarray(r * 6 * d, r * 6 * d + real), b.subarray(r * 10 * d, r * 10 * d + real)) < 1e-5, `row ${r}`);
        });
        model.dispose();
      });

      it('a later item does not change an earlier position', () => {
        const model = new SASRec({ ...BASE, numHeads: 2, numBlocks: 3, positionOrigin });
        perturb(model, 2);
        const d = model.embeddingDim;
        const before = [5, 1, 17, 3, 3, 11, 6, 2];
        const after = [5, 1, 17, 3, 14, 9, 19, 7]; // changed from slot 4 on
        const a = outputs(model, batchOf([before], 8));
        const b = outputs(model, batchOf([after], 8));
        assert.ok(maxAbsDiff(a.subarray(0, 4 * d), b.subarray(0, 4 * d)) < 1e-6, 'slots 0..3 unchanged');
        assert.ok(maxAbsDiff(a.subarray(4 * d, 5 * d), b.subarray(4 * d, 5 * d)) > 1e-3, 'slot 4 does change');
        model.dispose();
      });
    });
  }

  it("with positions from the start, appending items leaves the earlier outputs alone (from the end, positions shift as the original's do)", () => {
    const model = new SASRec({ ...BASE, positionOrigin: 'start' });
    perturb(model, 3);
    const d = model.embeddingDim;
    const a = outputs(model, batchOf([[5, 1, 17]], 6));
    const b = outputs(model, batchOf([[5, 1, 17, 2, 9]], 6));
    assert.ok(maxAbsDiff(a.subarray(0, 3 * d), b.subarray(0, 3 * d)) < 1e-6);
    model.dispose();
  });

  it('sequenceTargets: the next slot, then the row target; padded slots are left out', () => {
    const { positions, targets } = sequenceTargets(trainBatch([[4, 9, 2], [7]], [11, 13], 4));
    assert.deepEqual([...positions], [0, 1, 2, 4]);
    assert.deepEqual([...targets], [9, 2, 11, 13]);
  });

  it('the every-position loss equals a hand computation with tf ops', () => {
    const model = new SASRec({ ...BASE, itemCount: 9, maxLen: 5 });
    perturb(model, 4);
    const histories = [[3, 1, 8], [2, 2, 5, 7, 4], [6]];
    const batch = trainBatch(histories, [5, 1, 3], 5);
    const got = tf.tidy(() => model.sequenceLoss(batch).dataSync()[0]);
    const want = tf.tidy(() => {
      const h = model.sequenceOutput(batch) as tf.Tensor3D; // dropout 0: training = inference
      const e = model.itemEmbeddings();
      // Rows and targets written out: (row, slot) -> next item.
      const pairs: [number, number, number][] = [
        [0, 0, 1],
        [0, 1, 8],
        [0, 2, 5],
        [1, 0, 2],
        [1, 1, 5],
        [1, 2, 7],
        [1, 3, 4],
        [1, 4, 1],
        [2, 0, 3],
      ];
      const terms = pairs.map(([r, i, t]) => {
        const u = tf.reshape(tf.slice(h, [r, i, 0], [1, 1, -1]), [1, -1]);
        const logits = tf.reshape(tf.matMul(u, e, false, true), [-1]); // includes the padding column 0
        const real = tf.slice(logits, [1], [-1]);
        return tf.sub(tf.logSumExp(real), tf.reshape(tf.gather(logits, tf.tensor1d([t], 'int32')), []));
      });
      return tf.mean(tf.stack(terms)).dataSync()[0];
    });
    assert.ok(Math.abs(got - want) < 1e-5, `${got} vs ${want}`);
    model.dispose();
  });

  it('the loss is independent of the batch window length (padding carries no loss)', () => {
    const model = new SASRec({ ...BASE, maxLen: 9 });
    perturb(model, 5);
    const histories = [
      [3, 1, 8],
      [2, 2, 5, 7],
    ];
    const a = tf.tidy(() => model.sequenceLoss(trainBatch(histories, [5, 1], 4)).dataSync()[0]);
    const b = tf.tidy(() => model.sequenceLoss(trainBatch(histories, [5, 1], 9)).dataSync()[0]);
    assert.ok(Math.abs(a - b) < 1e-5, `${a} vs ${b}`);
    model.dispose();
  });

  it('the chunked normaliser equals one call, values and gradients', () => {
    const rng = new Random(9);
    const u = tf.tensor2d(
      Float32Array.from({ length: 7 * 4 }, () => rng.normal()),
      [7, 4],
    );
    const e = tf.tensor2d(
      Float32Array.from({ length: 5 * 4 }, () => rng.normal()),
      [5, 4],
    );
    const f = (maxLogits: number) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(normaliserInChunks(a as tf.Tensor2D, b as tf.Tensor2D, 0, maxLogits), tf.range(1, 8))));
    const [du1, de1] = f(1e9)([u, e]);
    const [du2, de2] = f(10)([u, e]); // two rows per block
    assert.ok(maxAbsDiff(du1.dataSync(), du2.dataSync()) < 1e-5);
    assert.ok(maxAbsDiff(de1.dataSync(), de2.dataSync()) < 1e-5);
    assert.ok(maxAbsDiff(normaliserInChunks(u, e, 0, 10).dataSync(), softmaxNormaliser(u, e).dataSync()) < 1e-5);
    tf.dispose([u, e, du1, de1, du2, de2]);
  });

  for (const separateOutput of [false, true]) {
    it(`learns a planted next-item rule at every position, gradients reach every weight, tensors stay flat${separateOutput ? ' (separate output table)' : ''}`, () => {
      // Item k is followed by k + 1 (mod 12); windows start anywhere and have lengths 2..8.
      const n = 12;
      const model = new SASRec({ itemCount: n + 1, embeddingDim: 16, maxLen: 8, dropout: 0.1, numHeads: 2, separateOutput, seed: 1 });
      const rng = new Random(4);
      const next = (k: number) => (k % n) + 1;
      const batchAt = () => {
        const histories = Array.from({ length: 16 }, () => {
          const h = [1 + rng.int(n)];
          const len = 2 + rng.int(7);
          while (h.length < len) h.push(next(h[h.length - 1]));
          return h;
        });
        return trainBatch(
          histories,
          histories.map((h) => next(h[h.length - 1])),
          8,
        );
      };
      const vars = model.trainableVariables();
      const { grads } = tf.variableGrads(() => model.sequenceLoss(batchAt()), vars);
      for (const v of vars) {
        const norm = tf.tidy(() => tf.sum(tf.abs(grads[v.name])).dataSync()[0]);
        assert.ok(norm > 0, `no gradient for ${v.name}`);
      }
      tf.dispose(Object.values(grads));
      const optimizer = tf.train.adam(0.01);
      const losses: number[] = [];
      let tensors = -1;
      for (let step = 0; step < 40; step++) {
        const batch = batchAt();
        const cost = optimizer.minimize(() => model.sequenceLoss(batch), true, vars)!;
        losses.push(cost.dataSync()[0]);
        cost.dispose();
        if (step === 2) tensors = tf.memory().numTensors;
        if (step > 2) assert.equal(tf.memory().numTensors, tensors, `tensor count at step ${step}`);
      }
      const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
      const last = losses.slice(-3).reduce((a, b) => a + b) / 3;
      assert.ok(last < 0.5 * first, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
      optimizer.dispose();
      model.dispose();
    });
  }

  it('the single-target loss (last position, any seqrec loss) trains too and leaks no tensors', () => {
    const model = new SASRec({ ...BASE, dropout: 0.2 });
    const batch = trainBatch(
      [
        [1, 2, 3],
        [4, 5],
      ],
      [4, 6],
      10,
    );
    const optimizer = tf.train.adam(0.01);
    let tensors = -1;
    for (let step = 0; step < 5; step++) {
      tf.dispose(optimizer.minimize(() => model.loss(batch), true, model.trainableVariables()) ?? []);
      if (step === 1) tensors = tf.memory().numTensors;
      if (step > 1) assert.equal(tf.memory().numTensors, tensors);
    }
    optimizer.dispose();
    model.dispose();
  });

  it('refuses a window longer than the position table', () => {
    const model = new SASRec({ ...BASE, maxLen: 4 });
    assert.throws(() => model.userEmbeddings(batchOf([[1, 2]], 6)), /position embeddings for 4 positions/);
    model.dispose();
  });
});
