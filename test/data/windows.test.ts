/**
 * `windowBatch`: the batch for hand-made histories is the batch the dataset builds itself.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateSynthetic, historyCut, SequenceDataset, windowBatch, type SequenceBatch } from '../../src/data/index.js';
import { seqrecError } from './helpers.js';

const plain = (b: SequenceBatch) => ({ batchSize: b.batchSize, maxLen: b.maxLen, history: [...b.history], mask: [...b.mask], lengths: [...b.lengths] });

// Lengths 3..12 around maxLen 6: some windows are cut, some padded.
const log = generateSynthetic({ numUsers: 120, numItems: 60, numClusters: 6, minLength: 3, maxLength: 12, seed: 11 });

describe('windowBatch', () => {
  for (const protocol of ['comirec', 'loo'] as const) {
    test(`equals the ${protocol} evaluation batches for the same histories`, () => {
      const ds = SequenceDataset.fromLog(log, { protocol, maxLen: 6 });
      let rows = 0;
      for (const split of ['valid', 'test'] as const) {
        for (const batch of ds.evalBatches(split, 16)) {
          const histories = [...batch.users].map((u) => {
            const seq = ds.sequence(u);
            const cut = protocol === 'comirec' ? historyCut(seq.length, ds.options.evalRatio) : split === 'valid' ? seq.length - 2 : seq.length - 1;
            return Array.from(seq.subarray(0, cut));
          });
          assert.deepEqual(plain(windowBatch(histories, ds.maxLen)), plain(batch));
          rows += batch.batchSize;
        }
      }
      assert.ok(rows > 20, `${rows} rows compared`);
    });
  }

  test('keeps the last maxLen items, oldest first, right-padded; typed arrays and lists alike', () => {
    const b = windowBatch([[1, 2, 3, 4, 5], Int32Array.of(7), [9, 8]], 3);
    assert.deepEqual(plain(b), {
      batchSize: 3,
      maxLen: 3,
      history: [3, 4, 5, 7, 0, 0, 9, 8, 0],
      mask: [1, 1, 1, 1, 0, 0, 1, 1, 0],
      lengths: [3, 1, 2],
    });
  });

  test('refuses an empty history, padding or non-integer items, and a bad maxLen', () => {
    assert.throws(() => windowBatch([[1], []], 4), seqrecError('invalid_argument', /history 1 is empty/));
    assert.throws(() => windowBatch([[1, 0, 2]], 4), seqrecError('invalid_argument', /history 0 position 1 has item index 0/));
    assert.throws(() => windowBatch([[1, 2.5]], 4), seqrecError('invalid_argument', /item index 2\.5/));
    assert.throws(() => windowBatch([[1]], 0), seqrecError('invalid_argument', /maxLen must be an integer in \[1, 10000\], got 0/));
    // Items before the window are not read.
    assert.deepEqual([...windowBatch([[0, 5, 6]], 2).history], [5, 6]);
  });
});
