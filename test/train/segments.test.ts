/**
 * evaluateSegments: users are bucketed by the length of their history before the held-out
 * item, each bucket's metrics are those of its users alone (hand-checked with a fixed
 * ranking), and the user-weighted mean of the buckets is the overall evaluateModel report.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import type { Retriever, SearchOptions } from '../../src/retrieval/types.js';
import { evaluateModel, evaluatePopularity } from '../../src/train/evaluate.js';
import { evaluateSegments } from '../../src/train/segments.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

const vocab = ItemVocabulary.fromItems(Array.from({ length: 20 }, (_, i) => `i${i + 1}`));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
// Leave-one-out: the test target is the last item, the history everything before it.
const sequences = [
  [5, 6, 7, 1], // history 3 -> 1-4, target 1
  [5, 6, 7, 8, 1], // history 4 -> 1-4, target 1
  [5, 6, 7, 8, 10, 11, 2], // history 6 -> 5-9, target 2
  [...range(5, 8), ...range(10, 16), 9], // history 11 -> 10+, target 9
  [...range(5, 8), ...range(10, 17), 9], // history 12 -> 10+, target 9
];
const dataset = SequenceDataset.fromEncoded(
  sequences.map((s) => Int32Array.from(s)),
  vocab,
  { protocol: 'loo', maxLen: 4 },
);

/** Ranks items 1, 2, 3 first for every user: target 1 is a hit at rank 1, 2 at rank 2, 9 a miss. */
const fixed: Retriever = {
  dim: 3,
  numItems: dataset.itemCount,
  metric: 'ip',
  search(queries: Float32Array, o: SearchOptions) {
    const n = queries.length / 3;
    return { ids: Int32Array.from({ length: n * o.k }, (_, i) => 1 + (i % o.k)), scores: new Float32Array(n * o.k), k: o.k } as ReturnType<Retriever['search']>;
  },
  dispose() {},
};

describe('evaluateSegments', () => {
  it('buckets users by history length, with the metrics of their users alone', () => {
    const model = new GRU4Rec({ itemCount: dataset.itemCount, embeddingDim: 3, maxLen: 4, seed: 1 });
    try {
      const segments = evaluateSegments(model, dataset, 'test', { ns: [3], retriever: fixed, edges: [5, 10] });
      assert.deepEqual(
        segments.map((s) => [s.label, s.min, s.max, s.users]),
        [
          ['1-4', 1, 4, 2],
          ['5-9', 5, 9, 1],
          ['10+', 10, null, 2],
        ],
      );
      assert.deepEqual(
        segments.map((s) => s.model['recall@3']),
        [1, 1, 0],
      );
      assert.ok(Math.abs(segments[1].model['ndcg@3'] - 1 / Math.log2(3)) < 1e-12);
      assert.equal(segments[0].model['ndcg@3'], 1);

      // The user-weighted mean of the buckets is the overall report, for the model and MostPopular.
      const overall = evaluateModel(model, dataset, 'test', { ns: [3], retriever: fixed });
      const popular = evaluatePopularity(dataset, 'test', { ns: [3] });
      for (const key of ['recall@3', 'ndcg@3'] as const) {
        const mean = (pick: (s: (typeof segments)[number]) => number) => segments.reduce((sum, s) => sum + s.users * pick(s), 0) / dataset.testUsers.length;
        assert.ok(Math.abs(mean((s) => s.model[key]) - overall[key]) < 1e-12, key);
        assert.ok(Math.abs(mean((s) => s.popularity[key]) - popular[key]) < 1e-12, key);
      }
      // Empty buckets are left out; edges must increase.
      assert.deepEqual(
        evaluateSegments(model, dataset, 'test', { ns: [3], retriever: fixed, edges: [20, 30] }).map((s) => s.label),
        ['1-19'],
      );
      assert.throws(() => evaluateSegments(model, dataset, 'test', { ns: [3], retriever: fixed, edges: [10, 5] }), /increasing integers/);
    } finally {
      model.dispose();
    }
  });
});
