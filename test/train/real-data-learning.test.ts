/**
 * Real-data regression guard: GRU4Rec trained briefly on a slice of ml-100k (each user's last
 * 30 ratings, leave-one-out) must beat MostPopular by a wide margin on the test items. A broken
 * model, loss, window or metric brings it back to (or below) popularity. Skipped, with a
 * message, when ../shared/data is absent.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { loadInteractions } from '../../src/data/loaders.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { evaluateModel, evaluatePopularity } from '../../src/train/evaluate.js';
import { Trainer } from '../../src/train/trainer.js';
import { SHARED_DATA, skipWithoutSharedData } from '../data/helpers.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

describe('learning on real data (ml-100k slice)', { skip: skipWithoutSharedData }, () => {
  it('GRU4Rec test recall@50 is at least 1.5x MostPopular after 3 epochs', async (t) => {
    const log = await loadInteractions(join(SHARED_DATA, 'ml-100k/u.data'));
    const last = 30;
    const sequences = log.sequences.map((s) => ({ ...s, items: s.items.slice(-last), timestamps: s.timestamps.slice(-last) }));
    const data = SequenceDataset.fromLog({ ...log, sequences }, { protocol: 'loo', maxLen: 20, seed: 1 });
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 32, maxLen: 20, seed: 1 });
    await new Trainer(model, { epochs: 3, patience: 3, learningRate: 1e-2, batchSize: 256 }).fit(data);
    const gru = evaluateModel(model, data, 'test', { retrieval: 'exact' })['recall@50'];
    const pop = evaluatePopularity(data, 'test')['recall@50'];
    model.dispose();
    t.diagnostic(`test recall@50: GRU4Rec ${gru.toFixed(4)}, MostPopular ${pop.toFixed(4)}`);
    assert.ok(pop > 0.05, `MostPopular recall@50 ${pop}: the slice is not what this test expects`);
    assert.ok(gru >= 1.5 * pop, `GRU4Rec recall@50 ${gru.toFixed(4)} vs MostPopular ${pop.toFixed(4)}`);
  });
});
