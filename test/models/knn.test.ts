/**
 * ItemKNN and SessionKNN against hand-computed similarities and scores on three training
 * sequences, the popularity fill and exclusions, and a learning check on planted data: both
 * far above MostPopular where the next item follows from the last ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { ItemKNN } from '../../src/models/knn/item-knn.js';
import { SessionKNN } from '../../src/models/knn/session-knn.js';
import { SessionSet } from '../../src/data/session-parallel.js';
import { evaluateModel, evaluatePopularity } from '../../src/train/evaluate.js';
import { evaluateSessionsRanked } from '../../src/train/session-evaluate.js';

const vocab = ItemVocabulary.fromItems(['a', 'b', 'c', 'd', 'e', 'f']);
// Leave-one-out: training sees all but the last two items (5 and 6 are held out everywhere),
// so the training sequences are A = [1, 2, 3], B = [1, 2], C = [2, 4, 2].
const dataset = SequenceDataset.fromEncoded([Int32Array.of(1, 2, 3, 5, 6), Int32Array.of(1, 2, 5, 6), Int32Array.of(2, 4, 2, 5, 6)], vocab, {
  protocol: 'loo',
  maxLen: 4,
});
const close = (a: ArrayLike<number>, b: number[], what: string) => {
  assert.equal(a.length, b.length, what);
  b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6, `${what}[${i}]: ${a[i]} != ${v}`));
};

describe('ItemKNN', () => {
  // supp: 1 -> 2 events, 2 -> 4, 3 -> 1, 4 -> 1. Co-occurrence counts event pairs: (2, 4) meet
  // 2 x 1 times in C. sim(i, j) = cooc / ((supp_i + λ)^α (supp_j + λ)^(1-α)), here λ 1, α 0.5.
  const knn = ItemKNN.fit(dataset, { lambda: 1, alpha: 0.5 });
  it('similarities follow the official formula', () => {
    const of2 = knn.neighboursOf(2);
    assert.deepEqual(Array.from(of2.ids), [4, 1, 3]);
    close(of2.sims, [2 / Math.sqrt(5 * 2), 2 / Math.sqrt(5 * 3), 1 / Math.sqrt(5 * 2)], 'sims of 2');
    const of1 = knn.neighboursOf(1);
    assert.deepEqual(Array.from(of1.ids), [2, 3]);
    close(of1.sims, [2 / Math.sqrt(3 * 5), 1 / Math.sqrt(3 * 2)], 'sims of 1');
    // α weights the supports: α = 1 divides by the query item's support only.
    close(ItemKNN.fit(dataset, { lambda: 0, alpha: 1 }).neighboursOf(1).sims, [2 / 2, 1 / 2], 'α = 1');
  });
  it('ranks by the last item, fills with popularity, respects exclusions and neighbours', () => {
    const r = knn.rank([[3, 2], [], [1, 2]], 5, [undefined, undefined, [1, 2]]);
    // Popularity order: 2 (4 events), 1 (2), 3, 4 (1 each), 5, 6 (none).
    assert.deepEqual(Array.from(r.ids.subarray(0, 5)), [4, 1, 3, 2, 5]);
    assert.deepEqual(Array.from(r.ids.subarray(5, 10)), [2, 1, 3, 4, 5]);
    assert.deepEqual(Array.from(r.ids.subarray(10, 15)), [4, 3, 5, 6, -1]);
    assert.deepEqual(Array.from(r.scores.subarray(5, 10)), [0, 0, 0, 0, 0]);
    // Defaults (λ 20): sim(2, 4) = 2 / √(24·21) > sim(2, 1) = 2 / √(24·22); one neighbour keeps 4.
    assert.deepEqual(Array.from(ItemKNN.fit(dataset, { neighbours: 1 }).neighboursOf(2).ids), [4]);
    assert.throws(() => ItemKNN.fit(dataset, { lambda: -1 }), /lambda must be a number >= 0/);
    assert.throws(() => ItemKNN.fit(dataset, { neighbors: 5 } as never), /neighbors/);
  });
});

describe('session protocol', () => {
  it('every prefix ranks its next item by the list position', () => {
    // Fitted on sessions A, B, C; the test session [2, 1, 3]: after [2] the target 1 is second
    // in 2's list [4, 1, 3]; after [2, 1] the target 3 is second in 1's list [2, 3].
    const train = new SessionSet([Int32Array.of(1, 2, 3), Int32Array.of(1, 2), Int32Array.of(2, 4, 2)], vocab);
    const knn = ItemKNN.fit(train, { lambda: 1 });
    const r = evaluateSessionsRanked(knn, new SessionSet([Int32Array.of(2, 1, 3)], vocab), { cutoffs: [1, 2] });
    assert.deepEqual(r, { 'recall@1': 0, 'mrr@1': 0, 'recall@2': 1, 'mrr@2': 0.5, events: 2 });
  });
});

describe('SessionKNN (V-SKNN)', () => {
  it('similarity, neighbour selection and step decay by hand', () => {
    // h = [4, 3]: w(4) = 1/2, w(3) = 2/2; sim(A) = 1 / 2 (shares 3), sim(C) = 0.5 / 2 (shares 4).
    // A's latest shared item is the last one (step 1), C's one step before (decay 1/2).
    const sknn = SessionKNN.fit(dataset);
    const r = sknn.rank([[4, 3]], 5);
    assert.deepEqual(Array.from(r.ids), [2, 1, 3, 4, 5]);
    close(r.scores, [0.5 + 0.25 * 0.5, 0.5, 0.5, 0.25 * 0.5, 0], 'scores');
    // One neighbour: A alone scores its items.
    const one = SessionKNN.fit(dataset, { neighbours: 1 }).rank([[4, 3]], 5);
    assert.deepEqual(Array.from(one.ids), [1, 2, 3, 4, 5]);
    close(one.scores, [0.5, 0.5, 0.5, 0, 0], 'one neighbour');
    // Sample 1: only the most recent candidate (C, last in data order) is considered.
    const recent = SessionKNN.fit(dataset, { sampleSize: 1 }).rank([[4, 3]], 3);
    assert.deepEqual(Array.from(recent.ids), [2, 4, 1]);
    close(recent.scores, [0.125, 0.125, 0], 'sample of one');
    // 'same' weighting and decay: sim(A) = 1/2, sim(C) = 1/2, no decay.
    const same = SessionKNN.fit(dataset, { weighting: 'same', scoreDecay: 'same' }).rank([[4, 3]], 4);
    close(same.scores, [1, 0.5, 0.5, 0.5], 'same');
    assert.deepEqual(Array.from(same.ids), [2, 1, 3, 4]);
  });
});

describe('neighbourhood models learn planted sequences', () => {
  it('ItemKNN and SessionKNN are far above MostPopular', () => {
    const log = generateSynthetic({ numUsers: 600, numItems: 120, numClusters: 6, minLength: 8, maxLength: 20, seed: 5 });
    const vocabulary = ItemVocabulary.fromItems([...new Set(log.sequences.flatMap((s) => s.items))]);
    const data = SequenceDataset.fromEncoded(
      log.sequences.map((s) => Int32Array.from(s.items, (id) => vocabulary.encode(id)!)),
      vocabulary,
      { protocol: 'loo', maxLen: 20 },
    );
    const popular = evaluatePopularity(data, 'test', { ns: [20] })['recall@20'];
    for (const model of [ItemKNN.fit(data), SessionKNN.fit(data)]) {
      const recall = evaluateModel(model, data, 'test', { ns: [20], exclude: 'history' })['recall@20'];
      assert.ok(recall > 2 * popular, `${model.name}: recall@20 ${recall.toFixed(3)} vs MostPopular ${popular.toFixed(3)}`);
    }
  });
});
