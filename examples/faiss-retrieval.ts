/**
 * Approximate top-k retrieval with faiss (FaissRetriever) next to exact brute force
 * (ExactRetriever): build indexes over a trained model's item embeddings, compare their
 * top-50 lists with the exact ones (overlap@50), their speed, and the test recall they give,
 * and save / load an index.
 *
 *   node --import tsx examples/faiss-retrieval.ts
 *
 * faiss is optional: `npm install faiss-node` (downloads a prebuilt binary), or in a clone of
 * seqrec on Debian/Ubuntu `npm run setup:faiss`. Without it this script runs the exact part
 * only and says so. EXAMPLE_QUICK=1: small data, one epoch (used by the test of the examples).
 * In your own project, import from 'seqrec' instead of '../src/index.js'.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ExactRetriever,
  FaissRetriever,
  GRU4Rec,
  SequenceDataset,
  Trainer,
  evaluateModel,
  faissAvailable,
  generateSynthetic,
  initBackend,
  type Retriever,
  type SearchResult,
} from '../src/index.js';

const quick = process.env.EXAMPLE_QUICK === '1';
await initBackend();
const log = generateSynthetic({ numUsers: quick ? 500 : 3000, numItems: quick ? 2000 : 20000, numClusters: 50, seed: 3 });
const data = SequenceDataset.fromLog(log, { maxLen: 20, samplesPerUser: 4, seed: 3 });
const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 64, maxLen: 20 });
await new Trainer(model, { epochs: quick ? 1 : 5, learningRate: 3e-3, log: console.log }).fit(data);

// Item table [itemCount * 64] (row 0 = padding, never returned) and the test users' query vectors.
const items = model.itemEmbeddings().dataSync() as Float32Array;
const batch = data.evalBatches('test', 100_000).next().value!;
const queries = tf.tidy(() => model.userEmbeddings(batch)).dataSync() as Float32Array;
const users = batch.batchSize;
const k = 50;

function timed(retriever: Retriever): { result: SearchResult; msPerUser: number } {
  retriever.search(queries.subarray(0, 64), { k }); // warm-up
  const t0 = performance.now();
  const result = retriever.search(queries, { k });
  return { result, msPerUser: (performance.now() - t0) / users };
}

function overlap(a: SearchResult, b: SearchResult): number {
  let same = 0;
  for (let u = 0; u < users; u++) {
    const exact = new Set(a.ids.subarray(u * k, (u + 1) * k));
    for (const id of b.ids.subarray(u * k, (u + 1) * k)) if (exact.has(id)) same++;
  }
  return same / (users * k);
}

const exact = new ExactRetriever(items, model.embeddingDim);
const reference = timed(exact);
const row = (name: string, r: Retriever, t: { result: SearchResult; msPerUser: number }) => {
  const recall = evaluateModel(model, data, 'test', { retriever: r })['recall@50'];
  console.log(
    `${name.padEnd(16)} ${t.msPerUser.toFixed(3).padStart(8)} ms/user   overlap@50 with exact ${overlap(reference.result, t.result).toFixed(3)}   test recall@50 ${recall.toFixed(4)}`,
  );
};
console.log(`\n${data.itemCount - 1} items, ${users} test users, top-${k} by inner product:`);
row('exact', exact, reference);

if (!faissAvailable()) {
  console.log('\nfaiss-node is not installed: only the exact retriever ran (npm install faiss-node, or npm run setup:faiss in a clone).');
} else {
  const nlist = quick ? 32 : 256;
  for (const factory of ['Flat', 'HNSW32', `IVF${nlist},Flat`]) {
    const faiss = new FaissRetriever(items, model.embeddingDim, { factory });
    row(`faiss ${factory}`, faiss, timed(faiss));
    faiss.dispose();
  }
  // Save an index and load it back: the sidecar (index.faiss.json) checks it belongs to these items.
  const dir = await mkdtemp(join(tmpdir(), 'seqrec-faiss-'));
  const hnsw = new FaissRetriever(items, model.embeddingDim, { factory: 'HNSW32', efSearch: 128 });
  hnsw.save(join(dir, 'index.faiss'));
  const loaded = FaissRetriever.load(join(dir, 'index.faiss'), { itemVectors: items });
  const same = overlap(hnsw.search(queries, { k }), loaded.search(queries, { k }));
  console.log(`\nsaved HNSW32 (efSearch 128) to ${dir}/index.faiss and loaded it back: ${same === 1 ? 'identical results' : `overlap ${same}`}`);
  hnsw.dispose();
  loaded.dispose();
  await rm(dir, { recursive: true, force: true });
}
exact.dispose();
model.dispose();
