// Learning test: on synthetic users with planted interests, the multi-interest models must
// beat the single-vector models on recall@50, and their K interests must come out distinct.
//
// Data: generateSynthetic({ multiInterest: true }) gives every user 3 or 4 interest clusters
// and walks between them. 50 clusters of 10 items in D = 16 dimensions: a user's future items
// come from 30-40 items in 3-4 clusters, more clusters than a single 16-d vector can separate
// (a mean of 3-4 cluster directions also points at many other clusters), while K = 4 interests
// can hold one cluster each. All models get the same budget: Adam, lr 0.05, batch 128,
// 10 epochs of 5 random targets per training user (1,200 users), model defaults otherwise
// (ComiRec-DR: N(0,1) maps, zero logits, hard readout; ComiRec-SA: hard readout). lr 0.05 is
// also the best of {0.005, 0.01, 0.02, 0.05} for both single-vector baselines on this data;
// ComiRec-DR, which starts from N(0,1) maps, needs it to get going within 10 epochs (at lr
// 0.02 it is still climbing and only level with mean pooling).
//
// Measured with these seeds (150 test users, recall@50): ComiRec-SA 0.71, ComiRec-DR 0.64,
// MIND 0.73, YouTubeDNN 0.51, GRU4Rec 0.41; mean pairwise interest cosine SA 0.28, DR 0.35,
// MIND 0.45. The test asserts a margin of 0.08 over the better single-vector model for
// ComiRec-SA and ComiRec-DR, and a cosine below 0.75 for all three multi-interest models.
// About 40 s of CPU on one core.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import type { BaseRecaller } from '../../src/models/base.js';
import { interestSimilarity } from '../../src/models/layers/attention.js';
import { createModel, type ModelName } from '../../src/models/registry.js';
import { evaluateModel } from '../../src/train/evaluate.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

const MARGIN = 0.08;
const EPOCHS = 10;

function train(name: ModelName, dataset: SequenceDataset): BaseRecaller {
  const model = createModel(name, { itemCount: dataset.itemCount, embeddingDim: 16, maxLen: 20, seed: 3 });
  const optimizer = tf.train.adam(0.05);
  const variables = model.trainableVariables();
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    for (const batch of dataset.trainBatches(epoch, 128)) optimizer.minimize(() => model.loss(batch), false, variables);
  }
  optimizer.dispose();
  return model;
}

/** Mean pairwise cosine between each test user's K interests, averaged over users. */
function meanInterestCosine(model: BaseRecaller, dataset: SequenceDataset): number {
  const batch = dataset.evalBatches('test', 10_000).next().value!;
  return tf.tidy(() => interestSimilarity(model.userEmbeddings(batch)).dataSync()[0]);
}

describe('multi-interest models on planted multi-interest data', () => {
  it(`ComiRec-SA and ComiRec-DR beat GRU4Rec and mean pooling by >= ${MARGIN} recall@50; MIND, SA and DR interests are distinct`, () => {
    const log = generateSynthetic({ numUsers: 1500, numItems: 500, numClusters: 50, multiInterest: true, seed: 7 });
    const dataset = SequenceDataset.fromLog(log, { maxLen: 20, samplesPerUser: 5, seed: 1 });
    const recall: Record<string, number> = {};
    const cosine: Record<string, number> = {};
    for (const name of ['gru4rec', 'youtubednn', 'comirec-sa', 'comirec-dr', 'mind'] as const) {
      const model = train(name, dataset);
      recall[name] = evaluateModel(model, dataset, 'test', { ns: [50] })['recall@50'];
      if (model.numInterests > 1) cosine[name] = meanInterestCosine(model, dataset);
      model.dispose();
    }
    const report = JSON.stringify({ recall, cosine });
    const single = Math.max(recall.gru4rec, recall.youtubednn);
    assert.ok(recall['comirec-sa'] >= single + MARGIN, `ComiRec-SA: ${report}`);
    assert.ok(recall['comirec-dr'] >= single + MARGIN, `ComiRec-DR: ${report}`);
    // Distinct interests: a user's K vectors are far from parallel (1 = collapsed onto one).
    for (const name of ['comirec-sa', 'comirec-dr', 'mind']) assert.ok(cosine[name] < 0.75, `${name} interests collapsed: ${report}`);
    console.log(`    ${report}`);
  });
});
