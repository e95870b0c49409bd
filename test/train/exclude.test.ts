/**
 * evaluateModel's `exclude`: 'window' (the old `excludeHistory: true`) removes only the input
 * window; 'history' removes the whole history before the held-out part ("filter seen").
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import type { Retriever, SearchOptions } from '../../src/retrieval/types.js';
import { evaluateModel, type EvaluationOptions } from '../../src/train/evaluate.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

const vocab = ItemVocabulary.fromItems(Array.from({ length: 12 }, (_, i) => `i${i + 1}`));
// Leave-one-out, maxLen 2: user 0 = 1..6, user 1 = 7..12.
const dataset = SequenceDataset.fromEncoded([Int32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(7, 8, 9, 10, 11, 12)], vocab, { protocol: 'loo', maxLen: 2 });

/** Records what evaluateModel asks to exclude, per user. */
function excludedBy(split: 'valid' | 'test', options: EvaluationOptions): Map<number, number[]> {
  const model = new GRU4Rec({ itemCount: dataset.itemCount, embeddingDim: 3, maxLen: 2, seed: 1 });
  const seen = new Map<number, number[]>();
  let row = 0;
  const users = split === 'valid' ? dataset.validUsers : dataset.testUsers;
  const retriever: Retriever = {
    dim: model.embeddingDim,
    numItems: dataset.itemCount,
    metric: 'ip',
    search(queries: Float32Array, o: SearchOptions) {
      const n = queries.length / model.embeddingDim;
      for (let q = 0; q < n; q++) seen.set(users[row++], o.exclude?.[q] ? Array.from(o.exclude[q]!) : []);
      return { ids: Int32Array.from({ length: n * o.k }, (_, i) => 1 + (i % o.k)), scores: new Float32Array(n * o.k), k: o.k } as ReturnType<
        Retriever['search']
      >;
    },
    dispose() {},
  };
  evaluateModel(model, dataset, split, { ns: [3], retriever, ...options });
  model.dispose();
  return seen;
}

describe("evaluateModel exclude: 'none' | 'window' | 'history'", () => {
  it("'window' removes the up to maxLen items fed to the model; 'history' every earlier item", () => {
    assert.equal(dataset.testUsers.length, 2);
    const seq = (u: number) => [...dataset.sequence(u)];
    const window = excludedBy('test', { exclude: 'window' });
    const history = excludedBy('test', { exclude: 'history' });
    for (const u of dataset.testUsers) {
      const s = seq(u);
      assert.deepEqual(window.get(u), s.slice(-3, -1)); // test target = last; window = the 2 before
      assert.deepEqual(history.get(u), s.slice(0, -1)); // everything before the target (valid item included)
    }
    const validHistory = excludedBy('valid', { exclude: 'history' });
    for (const u of dataset.validUsers) assert.deepEqual(validHistory.get(u), seq(u).slice(0, -2));
  });
  it("default 'none'; deprecated excludeHistory: true = 'window'; contradictions are errors", () => {
    for (const v of excludedBy('test', {}).values()) assert.deepEqual(v, []);
    assert.deepEqual(excludedBy('test', { excludeHistory: true }), excludedBy('test', { exclude: 'window' }));
    assert.throws(() => excludedBy('test', { excludeHistory: true, exclude: 'history' }), /contradicts/);
    assert.throws(() => excludedBy('test', { exclude: 'all' as never }), /exclude must be/);
  });
});
