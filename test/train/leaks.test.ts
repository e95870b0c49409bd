import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { SequenceDataset } from '../../src/data/dataset.js';
import { Random } from '../../src/util/random.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { Trainer } from '../../src/train/trainer.js';
import { randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

describe('no tensor leaks', () => {
  it('tensor count and bytes stay flat over 1,000 training steps', () => {
    const model = new GRU4Rec({ itemCount: 60, embeddingDim: 8, maxLen: 5, seed: 1 });
    const opt = tf.train.adam(0.01);
    const rng = new Random(1);
    const step = () => {
      const cost = opt.minimize(() => model.loss(randomTrainBatch(rng, 16, 5, 60)), true, model.trainableVariables());
      cost!.dispose();
    };
    step();
    const after1 = tf.memory();
    for (let i = 0; i < 999; i++) step();
    const after1000 = tf.memory();
    assert.equal(after1000.numTensors, after1.numTensors);
    assert.equal(after1000.numBytes, after1.numBytes);
    opt.dispose();
    model.dispose();
  });

  it('Trainer.fit leaves no tensors behind, epoch after epoch, also with worker threads', async () => {
    const log = generateSynthetic({ numUsers: 150, numItems: 80, numClusters: 4, minLength: 8, maxLength: 12, seed: 3 });
    const data = SequenceDataset.fromLog(log, { maxLen: 6, seed: 1 });
    for (const parallelism of [1, 2]) {
      const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 6, seed: 1 });
      const before = tf.memory().numTensors;
      const perEpoch: number[] = [];
      await new Trainer(model, {
        epochs: 4,
        patience: 10,
        batchSize: 32,
        parallelism,
        callbacks: { onEpochEnd: () => void perEpoch.push(tf.memory().numTensors) },
      }).fit(data);
      assert.equal(new Set(perEpoch).size, 1, `tensors per epoch ${perEpoch}`);
      assert.equal(tf.memory().numTensors, before, `parallelism ${parallelism}`);
      model.dispose();
    }
  });
});
