/**
 * A multi-interest model (ComiRec-SA; or MIND / ComiRec-DR) on synthetic users who each follow
 * 3 or 4 planted interests (clusters of items). After training, each of a user's K interest
 * vectors retrieves its own items: this script shows which planted cluster each interest's
 * top items come from.
 *
 *   node --import tsx examples/multi-interest.ts [comirec-sa|mind|comirec-dr]
 *
 * EXAMPLE_QUICK=1: a small dataset and one epoch (used by the test of the examples).
 * In your own project, import from 'seqrec' instead of '../src/index.js'.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ExactRetriever,
  SequenceDataset,
  Trainer,
  createModel,
  evaluateModel,
  evaluatePopularity,
  generateSynthetic,
  initBackend,
  isRegisteredModel,
  modelFactory,
  type ModelName,
} from '../src/index.js';

const quick = process.env.EXAMPLE_QUICK === '1';
const name = (process.argv[2] ?? 'comirec-sa') as ModelName;
if (!isRegisteredModel(name) || !modelFactory(name).capabilities.multiInterest) {
  console.error(`usage: multi-interest.ts [mind|comirec-dr|comirec-sa] (got '${name}')`);
  process.exit(2);
}
await initBackend();

// Users with 3-4 planted interests; items are grouped in 20 clusters (the planted truth is returned too).
const log = generateSynthetic({ multiInterest: true, numUsers: quick ? 400 : 3000, numItems: quick ? 300 : 1000, seed: 7 });
const data = SequenceDataset.fromLog(log, { maxLen: 20, samplesPerUser: 4, seed: 7 });
const K = 4;
const model = createModel(name, { itemCount: data.itemCount, embeddingDim: 32, maxLen: 20, numInterests: K, seed: 7 });
const fit = await new Trainer(model, { epochs: quick ? 1 : 15, patience: 3, learningRate: 3e-3, log: console.log }).fit(data);

const test = evaluateModel(model, data, 'test'); // K interests merged by score, as ComiRec's evaluation
const popular = evaluatePopularity(data, 'test');
console.log(`${name} (K=${K}), best epoch ${fit.bestEpoch}: test recall@50 ${test['recall@50'].toFixed(4)} vs MostPopular ${popular['recall@50'].toFixed(4)}`);

// One test user: retrieve with each interest vector on its own.
const batch = data.evalBatches('test', 1).next().value!;
const user = batch.users[0];
const vectors = tf.tidy(() => model.userEmbeddings(batch)).arraySync()[0]; // [K][D]
const items = model.itemEmbeddings().dataSync() as Float32Array;
const retriever = new ExactRetriever(items, model.embeddingDim);
const clusterOf = (index: number) => log.truth.itemCluster[Number(data.vocabulary.decode(index).slice(1))]; // item ids are 'i<number>'
console.log(`user ${data.userIds![user]}: planted interests = clusters ${[...log.truth.userInterests[Number(data.userIds![user].slice(1))]].join(', ')}`);
vectors.forEach((v, k) => {
  const top = retriever.search(Float32Array.from(v), { k: 10 });
  const clusters = [...top.ids].filter((i) => i > 0).map(clusterOf);
  const counts = new Map<number, number>();
  for (const c of clusters) counts.set(c, (counts.get(c) ?? 0) + 1);
  const summary = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([c, n]) => `cluster ${c} x${n}`)
    .join(', ');
  console.log(`  interest ${k + 1}: top-10 items from ${summary}`);
});
retriever.dispose();
model.dispose();
