import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { topK, TopKHeap } from '../../src/retrieval/index.js';
import { SeqrecError } from '../../src/errors.js';
import { Random } from '../../src/util/random.js';

describe('topK', () => {
  it('returns the best k by score, ties to the lower id, never index 0', () => {
    // index:        0    1  2  3  4  5
    const scores = [100, 1, 5, 3, 5, 2];
    const r = topK(Float32Array.from(scores), 3);
    // 2 and 4 tie at 5 -> 2 first; then 3 (score 3). Index 0 (100) is padding.
    assert.deepEqual([...r.ids], [2, 4, 3]);
    assert.deepEqual([...r.scores], [5, 5, 3]);
  });

  it('skips excluded ids during selection, so the list stays full', () => {
    const r = topK(Float32Array.from([100, 1, 5, 3, 5, 2]), 3, { exclude: [2, 99] });
    assert.deepEqual([...r.ids], [4, 3, 5]);
    const s = topK(Float32Array.from([100, 1, 5, 3, 5, 2]), 3, { exclude: new Set([4]) });
    assert.deepEqual([...s.ids], [2, 3, 5]);
  });

  it('pads with -1 / -Infinity when fewer than k items exist, and drops NaN scores', () => {
    const r = topK(Float32Array.from([9, 1, NaN, 2]), 4);
    assert.deepEqual([...r.ids], [3, 1, -1, -1]);
    assert.deepEqual([...r.scores], [2, 1, -Infinity, -Infinity]);
  });

  it('keeps -Infinity scores as real items', () => {
    const r = topK(Float32Array.from([0, -Infinity, 1]), 3);
    assert.deepEqual([...r.ids], [2, 1, -1]);
  });

  it('agrees with a full sort on random scores with many ties', () => {
    const rng = new Random(3);
    for (const [n, k] of [
      [2, 1],
      [10, 3],
      [500, 17],
      [500, 600],
      [2000, 50],
    ]) {
      // small integer range -> lots of ties
      const scores = Float32Array.from({ length: n }, () => rng.int(20) - 10);
      const exclude = Array.from({ length: 5 }, () => rng.int(n));
      const ex = new Set(exclude);
      const want = Array.from({ length: n }, (_, i) => i)
        .filter((i) => i !== 0 && !ex.has(i))
        .sort((a, b) => scores[b] - scores[a] || a - b)
        .slice(0, k);
      const r = topK(scores, k, { exclude });
      assert.deepEqual([...r.ids].slice(0, want.length), want, `n=${n} k=${k}`);
      assert.ok([...r.ids].slice(want.length).every((id) => id === -1));
    }
  });

  it('rejects k < 1', () => {
    assert.throws(
      () => topK(new Float32Array(4), 0),
      (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_argument' && /k must be/.test(e.message),
    );
  });
});

describe('TopKHeap', () => {
  it('is order independent and reusable after draining', () => {
    const rng = new Random(11);
    const heap = new TopKHeap(5);
    const pairs = Array.from({ length: 40 }, (_, i) => [i + 1, rng.int(8)] as const);
    const want = [...pairs].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, 5);
    for (let rep = 0; rep < 3; rep++) {
      for (const [id, s] of rng.shuffle([...pairs])) heap.push(id, s);
      const ids = new Int32Array(5);
      const scores = new Float32Array(5);
      heap.drainInto(ids, scores, 0);
      assert.deepEqual(
        [...ids],
        want.map((p) => p[0]),
      );
      assert.deepEqual(
        [...scores],
        want.map((p) => p[1]),
      );
      assert.equal(heap.size, 0);
    }
  });

  it('threshold is -Infinity until full, then the worst kept score', () => {
    const heap = new TopKHeap(2);
    heap.push(1, 3);
    assert.equal(heap.threshold, -Infinity);
    heap.push(2, 7);
    assert.equal(heap.threshold, 3);
    heap.push(3, 5);
    assert.equal(heap.threshold, 5);
  });
});
