import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { evaluateModel, evaluatePopularity } from '../../src/train/evaluate.js';
import { Trainer, type EpochRecord } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

function smallData(seed = 5) {
  const log = generateSynthetic({ numUsers: 600, numItems: 300, numClusters: 10, minLength: 15, maxLength: 30, seed });
  return SequenceDataset.fromLog(log, { maxLen: 10, samplesPerUser: 4, seed: 1 });
}

describe('Trainer', () => {
  it('learns the planted structure: test recall@50 at least twice MostPopular', async () => {
    const data = smallData();
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 32, maxLen: 10, seed: 2 });
    const fit = await new Trainer(model, { epochs: 12, patience: 4, batchSize: 128, learningRate: 5e-3, parallelism: 1 }).fit(data);
    const test = evaluateModel(model, data, 'test');
    const pop = evaluatePopularity(data, 'test');
    assert.ok(test['recall@50'] >= 2 * pop['recall@50'], `GRU4Rec ${test['recall@50']} vs MostPopular ${pop['recall@50']}`);
    assert.ok(fit.history[fit.history.length - 1].loss < fit.history[0].loss);
    model.dispose();
  });

  it('restores the best epoch weights and reports the epoch history', async () => {
    const data = smallData(6);
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 16, maxLen: 10, seed: 3 });
    const seen: EpochRecord[] = [];
    // A high learning rate makes validation recall go up and down, so the last epoch is
    // usually not the best one.
    const fit = await new Trainer(model, {
      epochs: 8,
      patience: 2,
      batchSize: 64,
      learningRate: 0.05,
      parallelism: 1,
      callbacks: { onEpochEnd: (r) => void seen.push(r) },
    }).fit(data);
    assert.deepEqual(seen, fit.history);
    const best = Math.max(...fit.history.map((r) => r.valid['recall@50']));
    assert.equal(fit.bestValid['recall@50'], best);
    assert.equal(fit.history[fit.bestEpoch - 1].valid['recall@50'], best);
    // The model now holds the best epoch's weights: validating again gives its numbers.
    assert.deepEqual(evaluateModel(model, data, 'valid'), fit.bestValid);
    if (fit.stoppedBy === 'early_stopping') assert.equal(fit.history.length, fit.bestEpoch + 2);
    model.dispose();
  });

  it('rejects bad options with the field named', () => {
    const model = new GRU4Rec({ itemCount: 10 });
    assert.throws(() => new Trainer(model, { batchSize: 0 }), /batchSize/);
    assert.throws(() => new Trainer(model, { learningRate: -1 }), /learningRate/);
    assert.throws(() => new Trainer(model, { loss: 'nope' as never }), /Unknown loss 'nope'/);
    assert.throws(() => new Trainer(model, { parallelism: 2, loss: () => null as never }), /parallelism/);
    model.dispose();
  });
});

describe('Trainer parallelism', () => {
  it('falls back to one thread for a model the workers cannot rebuild', async () => {
    class Custom extends GRU4Rec {
      override readonly name = 'my-custom';
    }
    const model = new Custom({ itemCount: 20 });
    assert.equal(new Trainer(model).resolveParallelism(), 1);
    assert.throws(() => new Trainer(model, { parallelism: 2 }), /needs a model from the registry/);
    model.dispose();
  });
});
