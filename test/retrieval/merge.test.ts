import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mergeInterestCandidates, mergeInterestCandidatesBatch } from '../../src/retrieval/index.js';
import { SeqrecError } from '../../src/errors.js';

const f = Math.fround;

// One user, 2 interests x 3 candidates:
//   interest 0: 4 (0.9), 7 (0.5), 2 (0.3)
//   interest 1: 7 (0.8), 0 (0.95, padding), 5 (0.3)
// Pooled, best score per item: 4 0.9, 7 0.8 (best of 0.5/0.8), 2 0.3, 5 0.3 (tie -> 2 before 5); 0 dropped.
const ids = Int32Array.from([4, 7, 2, 7, 0, 5]);
const scores = Float32Array.from([0.9, 0.5, 0.3, 0.8, 0.95, 0.3]);

describe('mergeInterestCandidates', () => {
  it('pools, deduplicates keeping the best score, drops padding, sorts by score then id', () => {
    const r = mergeInterestCandidates(ids, scores, 2, 3, 3);
    assert.deepEqual([...r.ids], [4, 7, 2]);
    assert.deepEqual([...r.scores], [f(0.9), f(0.8), f(0.3)]);
  });

  it('pads with -1 / -Infinity when there are fewer distinct items than k', () => {
    const r = mergeInterestCandidates(ids, scores, 2, 3, 5);
    assert.deepEqual([...r.ids], [4, 7, 2, 5, -1]);
    assert.deepEqual([...r.scores], [f(0.9), f(0.8), f(0.3), f(0.3), -Infinity]);
  });

  it('drops excluded ids and -1 slots from the input', () => {
    const r = mergeInterestCandidates(ids, scores, 2, 3, 3, [4]);
    assert.deepEqual([...r.ids], [7, 2, 5]);
    const withEmpty = mergeInterestCandidates(Int32Array.from([3, -1, 6, -1]), Float32Array.from([1, 9, 2, -Infinity]), 2, 2, 3);
    assert.deepEqual([...withEmpty.ids], [6, 3, -1]);
  });

  it('does not depend on the order of the interests', () => {
    const swapped = mergeInterestCandidates(Int32Array.from([7, 0, 5, 4, 7, 2]), Float32Array.from([0.8, 0.95, 0.3, 0.9, 0.5, 0.3]), 2, 3, 4);
    assert.deepEqual([...swapped.ids], [4, 7, 2, 5]);
  });

  it('checks shapes', () => {
    assert.throws(
      () => mergeInterestCandidates(ids, scores, 2, 2, 3),
      (e: unknown) => e instanceof SeqrecError && e.code === 'shape_mismatch' && /2 \* 2 = 4/.test(e.message) && /ids.length=6/.test(e.message),
    );
    assert.throws(
      () => mergeInterestCandidates(ids, scores, 0, 3, 3),
      (e: unknown) => e instanceof SeqrecError && /interests/.test(e.message),
    );
  });
});

describe('mergeInterestCandidatesBatch', () => {
  it('merges each user independently with its own exclusions', () => {
    // user 0: the candidates above; user 1: interest 0 = 1 (0.1), 2 (0.2), 3 (0.3); interest 1 = 3 (0.7), 3 (0.6), 9 (0.65)
    const bIds = Int32Array.from([...ids, 1, 2, 3, 3, 3, 9]);
    const bScores = Float32Array.from([...scores, 0.1, 0.2, 0.3, 0.7, 0.6, 0.65]);
    const r = mergeInterestCandidatesBatch(bIds, bScores, 2, 3, 3, [null, [9]]);
    assert.equal(r.numQueries, 2);
    assert.equal(r.k, 3);
    // user 1 without 9: 3 (0.7), 2 (0.2), 1 (0.1)
    assert.deepEqual([...r.ids], [4, 7, 2, 3, 2, 1]);
    assert.deepEqual([...r.scores].slice(3), [f(0.7), f(0.2), f(0.1)]);
  });

  it('checks shapes', () => {
    assert.throws(
      () => mergeInterestCandidatesBatch(new Int32Array(7), new Float32Array(7), 2, 3, 3),
      (e: unknown) => e instanceof SeqrecError && e.code === 'shape_mismatch' && /multiple of interests \* perInterest = 6/.test(e.message),
    );
    assert.throws(
      () => mergeInterestCandidatesBatch(new Int32Array(12), new Float32Array(12), 2, 3, 3, [null]),
      (e: unknown) => e instanceof SeqrecError && e.code === 'shape_mismatch' && /one entry per user \(2\), got 1/.test(e.message),
    );
  });
});
