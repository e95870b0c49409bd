import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';

const vocab = ItemVocabulary.fromItems(['a', 'b', 'c', 'd', 'e']);
const seqs = Array.from({ length: 6 }, (_, u) => Int32Array.from([1, 2, 3, 4, 5].map((x) => ((x + u) % 5) + 1)));

describe('explicit user split', () => {
  it('uses the given lists instead of the seeded split', () => {
    const d = SequenceDataset.fromEncoded(seqs, vocab, { userSplit: { train: [5, 0, 1], valid: [3], test: [2, 4] } });
    assert.deepEqual([...d.trainUsers], [0, 1, 5]);
    assert.deepEqual([...d.validUsers], [3]);
    assert.deepEqual([...d.testUsers], [2, 4]);
  });

  it('rejects overlapping or out-of-range users', () => {
    assert.throws(
      () => SequenceDataset.fromEncoded(seqs, vocab, { userSplit: { train: [0, 1], valid: [1], test: [2] } }),
      /user 1 appears in more than one list/,
    );
    assert.throws(() => SequenceDataset.fromEncoded(seqs, vocab, { userSplit: { train: [0], valid: [9], test: [2] } }), /userSplit\.valid: user index 9/);
  });
});
