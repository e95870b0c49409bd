import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/util/random.js';
import { SeqrecError } from '../../src/errors.js';
import { sampledSoftmax } from '../../src/losses/index.js';
import type { LossFunction } from '../../src/losses/types.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { MIND } from '../../src/models/mind.js';
import { embeddingLookup, mergeRows } from '../../src/ops/embedding.js';
import { AdamStep, resolveItemGradients } from '../../src/train/step.js';
import { randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

/** Full softmax written with lookups only, so every real item row is "touched" each step. */
const lookupSoftmax: LossFunction = ({ user, items, targets }) =>
  tf.tidy(() => {
    const n = items.shape[0];
    const all = embeddingLookup(items, tf.range(1, n, 1, 'int32')) as tf.Tensor2D;
    const logits = tf.matMul(user, all, false, true);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.sub(targets, tf.scalar(1, 'int32')), n - 1), logits) as tf.Scalar;
  });

function weights(model: { namedWeights(): { name: string; variable: tf.Variable }[] }): Map<string, Float32Array> {
  return new Map(model.namedWeights().map(({ name, variable }) => [name, (variable.dataSync() as Float32Array).slice()]));
}

describe('row-sparse item gradients', () => {
  it('mergeRows sums repeated rows and sorts them', () => {
    const r = mergeRows(
      [
        { indices: Int32Array.from([3, 1, 3]), grads: Float32Array.from([1, 2, 10, 20, 100, 200]) },
        { indices: Int32Array.from([1]), grads: Float32Array.from([0.5, 0.25]) },
      ],
      2,
    );
    assert.deepEqual([...r.indices], [1, 3]);
    assert.deepEqual([...r.values], [10.5, 20.25, 101, 202]);
  });

  for (const Model of [GRU4Rec, MIND]) {
    it(`${Model.name}: sparse Adam equals dense Adam when every row is touched every step`, () => {
      const make = () => new Model({ itemCount: 40, embeddingDim: 8, maxLen: 6, seed: 7 });
      const dense = make();
      const sparse = make();
      const a = new AdamStep(dense, lookupSoftmax, { learningRate: 0.01, itemGradients: 'dense' });
      const b = new AdamStep(sparse, lookupSoftmax, { learningRate: 0.01, itemGradients: 'sparse' });
      const rng = new Random(3);
      for (let s = 0; s < 4; s++) {
        const batch = randomTrainBatch(rng, 16, 6, 40);
        const la = a.run(batch);
        const lb = b.run(batch);
        assert.ok(Math.abs(la - lb) < 1e-5, `step ${s}: loss ${la} vs ${lb}`);
      }
      const wa = weights(dense);
      const wb = weights(sparse);
      for (const [name, x] of wa) {
        const y = wb.get(name)!;
        let worst = 0;
        for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
        assert.ok(worst < 1e-5, `${name}: max difference ${worst}`);
      }
      // And training moved the table at all (the comparison is not between two frozen tables).
      const init = weights(make()).get('item_embeddings')!;
      assert.ok(wb.get('item_embeddings')!.some((v, i) => Math.abs(v - init[i]) > 1e-3));
      a.dispose();
      b.dispose();
      dense.dispose();
      sparse.dispose();
    });
  }

  it('rows no batch touches stay exactly as they were', () => {
    const model = new GRU4Rec({ itemCount: 500, embeddingDim: 8, maxLen: 5, seed: 1 });
    const loss = sampledSoftmax({ numNegatives: 5, sampler: 'uniform' });
    const step = new AdamStep(model, loss, { learningRate: 0.05, itemGradients: 'sparse' });
    // Histories and targets only from items 1..20; 5 uniform negatives per step: most rows are idle.
    const rng = new Random(5);
    const before = (model.itemEmbeddings().dataSync() as Float32Array).slice();
    const touched = new Set<number>();
    for (let s = 0; s < 3; s++) {
      const batch = randomTrainBatch(rng, 8, 5, 21);
      for (const i of batch.history) touched.add(i);
      for (const i of batch.targets) touched.add(i);
      step.run(batch);
    }
    const after = model.itemEmbeddings().dataSync() as Float32Array;
    let unchanged = 0;
    let changedOutside = 0;
    for (let r = 21; r < 500; r++) {
      const same = after.subarray(r * 8, r * 8 + 8).every((v, d) => v === before[r * 8 + d]);
      if (same) unchanged++;
      else changedOutside++;
    }
    // At most 15 negatives drawn in 3 steps can have moved a row outside 1..20.
    assert.ok(changedOutside <= 15, `${changedOutside} untouched rows moved`);
    assert.ok(unchanged >= 479 - 15);
    // Every history/target row did move.
    for (const r of touched) {
      if (r === 0) continue;
      assert.ok(
        after.subarray(r * 8, r * 8 + 8).some((v, d) => v !== before[r * 8 + d]),
        `row ${r} did not move`,
      );
    }
    step.dispose();
    model.dispose();
  });

  it('a loss that scores the whole table is an error in sparse mode, naming the option', () => {
    const model = new GRU4Rec({ itemCount: 30, embeddingDim: 4, maxLen: 4, seed: 1 });
    const step = new AdamStep(model, (input) => tf.mean(tf.matMul(input.user, input.items, false, true)) as tf.Scalar, {
      learningRate: 0.01,
      itemGradients: 'sparse',
    });
    const before = (model.itemEmbeddings().dataSync() as Float32Array).slice();
    assert.throws(
      () => step.run(randomTrainBatch(new Random(1), 4, 4, 30)),
      (e: unknown) => e instanceof SeqrecError && /itemGradients/.test(e.message),
    );
    assert.deepEqual(model.itemEmbeddings().dataSync(), before);
    step.dispose();
    model.dispose();
  });

  it("'auto' is dense for full softmax and sparse for sampled losses", () => {
    assert.equal(resolveItemGradients('auto', 'softmax'), 'dense');
    assert.equal(resolveItemGradients('auto', 'sampled-softmax'), 'sparse');
    assert.equal(resolveItemGradients('auto', 'bpr-max'), 'sparse');
    assert.equal(resolveItemGradients('auto', sampledSoftmax({ numNegatives: 3 })), 'sparse');
    assert.equal(resolveItemGradients('auto', lookupSoftmax), 'dense');
    assert.equal(resolveItemGradients('dense', 'bpr-max'), 'dense');
    assert.throws(() => resolveItemGradients('lazy' as never, 'softmax'), /itemGradients/);
  });

  it('no tensors leak over 300 sparse steps', () => {
    const model = new GRU4Rec({ itemCount: 200, embeddingDim: 8, maxLen: 5, seed: 1 });
    const step = new AdamStep(model, sampledSoftmax({ numNegatives: 10, sampler: 'uniform' }), { learningRate: 0.01, itemGradients: 'sparse' });
    const rng = new Random(2);
    step.run(randomTrainBatch(rng, 16, 5, 200));
    const after1 = tf.memory();
    for (let i = 0; i < 300; i++) step.run(randomTrainBatch(rng, 16, 5, 200));
    assert.equal(tf.memory().numTensors, after1.numTensors);
    assert.equal(tf.memory().numBytes, after1.numBytes);
    step.dispose();
    model.dispose();
  });
});
