/** Named sampled losses through the Trainer: bound to the dataset's counts, single-worker, learning. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { lossSplitsAcrossWorkers } from '../../src/losses/index.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { evaluateModel, evaluatePopularity } from '../../src/train/evaluate.js';
import { Trainer } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

describe('Trainer with sampled losses', () => {
  it('binds popularity samplers to the dataset and learns the planted structure', async () => {
    const log = generateSynthetic({ numUsers: 600, numItems: 300, numClusters: 10, minLength: 15, maxLength: 30, seed: 5 });
    const data = SequenceDataset.fromLog(log, { maxLen: 10, samplesPerUser: 4, seed: 1 });
    const pop = evaluatePopularity(data, 'test');
    for (const loss of ['sampled-softmax', 'bpr-max'] as const) {
      const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 32, maxLen: 10, seed: 2 });
      const trainer = new Trainer(model, { loss, epochs: 8, patience: 4, batchSize: 128, learningRate: 5e-3 });
      assert.equal(trainer.resolveParallelism(), 1, 'sampled losses are not split across workers');
      const fit = await trainer.fit(data);
      const test = evaluateModel(model, data, 'test');
      assert.ok(test['recall@50'] >= 1.5 * pop['recall@50'], `${loss}: recall@50 ${test['recall@50']} vs MostPopular ${pop['recall@50']}`);
      assert.ok(fit.history[fit.history.length - 1].loss < fit.history[0].loss, loss);
      model.dispose();
    }
  });

  it('only full softmax may be split across data-parallel workers', () => {
    assert.equal(lossSplitsAcrossWorkers('softmax'), true);
    for (const l of ['sampled-softmax', 'in-batch', 'bpr', 'top1', 'bpr-max', 'top1-max', 'comirec-sampled'] as const)
      assert.equal(lossSplitsAcrossWorkers(l), false, l);
    const model = new GRU4Rec({ itemCount: 20, embeddingDim: 4, maxLen: 3 });
    assert.throws(() => new Trainer(model, { loss: 'bpr-max', parallelism: 2 }), /full-softmax loss/);
    model.dispose();
  });
});
