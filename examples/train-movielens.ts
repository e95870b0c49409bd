/**
 * Train GRU4Rec on MovieLens 100K and evaluate it the ComiRec way (full ranking over all items).
 *
 *   node --import tsx examples/train-movielens.ts [path/to/u.data]
 *
 * Default path: ../shared/data/ml-100k/u.data (next to this repository). Any MovieLens file
 * (ratings.dat, u.data, ratings.csv) or a CSV/TSV/JSONL interaction log works: the format is
 * detected. EXAMPLE_QUICK=1 trains one short epoch (used by the test of the examples).
 *
 * In your own project, import from 'seqrec' instead of '../src/index.js'.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GRU4Rec,
  SequenceDataset,
  Trainer,
  evaluateModel,
  evaluatePopularity,
  initBackend,
  kCore,
  loadInteractions,
  saveModel,
  loadModel,
} from '../src/index.js';

const quick = process.env.EXAMPLE_QUICK === '1';
const path = process.argv[2] ?? fileURLToPath(new URL('../../shared/data/ml-100k/u.data', import.meta.url));
if (!existsSync(path)) {
  console.error(`no interaction file at ${path}: pass the path to MovieLens u.data (or any interaction log) as the first argument`);
  process.exit(2);
}

const backend = await initBackend(); // tfjs-node if installed, else WebAssembly, else plain JS
console.log(`backend: ${backend.name}`);

// 1. Load: one time-ordered sequence per user (ties in time keep file order).
const log = await loadInteractions(path);
// 2. 5-core: items and users with at least 5 interactions.
const { sequences, report } = kCore(log.sequences, { minUserInteractions: 5, minItemInteractions: 5 });
console.log(`${path}: ${report.usersAfter} users, ${report.itemsAfter} items, ${report.interactionsAfter} interactions after 5-core`);

// 3. The ComiRec protocol: users split 8:1:1; valid/test users give the first 80% as input and the rest as targets.
const data = SequenceDataset.fromLog({ ...log, sequences }, { protocol: 'comirec', maxLen: 20, samplesPerUser: quick ? 1 : 10 });

// 4. Model and training: full softmax over all items, Adam, validation (recall@50) after every epoch.
const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 64, maxLen: 20, seed: 42 });
const trainer = new Trainer(model, { epochs: quick ? 1 : 10, patience: 3, batchSize: 256, learningRate: 1e-3, log: console.log });
const fit = await trainer.fit(data);
console.log(`best epoch ${fit.bestEpoch} of ${fit.history.length} (best weights restored)`);

// 5. Test: the same protocol on the test users, next to the MostPopular baseline.
const test = evaluateModel(model, data, 'test');
const popular = evaluatePopularity(data, 'test');
for (const key of ['recall@20', 'recall@50', 'ndcg@50', 'hitRate@50'] as const) {
  console.log(`test ${key.padEnd(11)} GRU4Rec ${test[key].toFixed(4)}   MostPopular ${popular[key].toFixed(4)}`);
}

// 6. Save and load back (model.json + weights.bin + vocabulary.json).
const dir = await mkdtemp(join(tmpdir(), 'seqrec-example-'));
await saveModel(model, dir, { vocabulary: data.vocabulary });
const loaded = await loadModel(dir);
const again = evaluateModel(loaded.model, data, 'test');
console.log(`saved to ${dir}; reloaded model gives test recall@50 ${again['recall@50'].toFixed(4)}`);
loaded.model.dispose();
model.dispose();
await rm(dir, { recursive: true, force: true });
