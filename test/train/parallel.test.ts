import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/util/random.js';
import { resolveLoss } from '../../src/losses/index.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { DataParallelGradients, sliceBatch } from '../../src/train/parallel.js';
import { maxAbsDiff, randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

describe('data-parallel gradients', () => {
  it('slices batches by rows', () => {
    const batch = randomTrainBatch(new Random(1), 5, 3, 20);
    const part = sliceBatch(batch, 1, 3);
    assert.equal(part.batchSize, 2);
    assert.deepEqual([...part.history], [...batch.history.subarray(3, 9)]);
    assert.deepEqual([...part.targets], [...batch.targets.subarray(1, 3)]);
  });

  it('combines worker gradients into the whole batch gradient, and follows weight updates', async () => {
    const model = new GRU4Rec({ itemCount: 80, embeddingDim: 8, maxLen: 6, seed: 3 });
    const lossFn = resolveLoss('softmax');
    const dp = await DataParallelGradients.start(model, 'softmax', 3);
    try {
      const opt = tf.train.adam(0.05);
      const rng = new Random(2);
      for (let step = 0; step < 3; step++) {
        const batch = randomTrainBatch(rng, 31, 6, 80); // uneven parts: 10 / 11 / 10
        const ref = tf.variableGrads(() => model.loss(batch, lossFn), model.trainableVariables());
        const { loss, grads } = await dp.compute(batch, lossFn);
        assert.ok(Math.abs(loss - ref.value.dataSync()[0]) < 1e-5, `loss at step ${step}`);
        for (const v of model.trainableVariables()) {
          assert.ok(maxAbsDiff(grads[v.name].dataSync(), ref.grads[v.name].dataSync()) < 1e-5, `${v.name} at step ${step}`);
        }
        // Move the weights; the workers must see the update through shared memory.
        opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
        dp.publishWeights();
        tf.dispose([ref.value, ...Object.values(ref.grads), ...Object.values(grads)]);
      }
      opt.dispose();
    } finally {
      await dp.close();
      model.dispose();
    }
  });
});
