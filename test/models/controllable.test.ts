// ComiRec's controllable aggregation (src/retrieval/controllable.ts). It lives with the model
// tests because it is the multi-interest models' retrieval step.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Random } from '../../src/util/random.js';
import {
  categoryDiversity,
  controllableAggregate,
  controllableAggregateBatch,
  mergeInterestCandidates,
  mergeInterestCandidatesBatch,
} from '../../src/retrieval/index.js';

const f = Math.fround;

/** K per-interest top-n lists over `items` items with random scores, interest-major. */
function randomCandidates(rng: Random, users: number, k: number, n: number, items: number) {
  const ids = new Int32Array(users * k * n);
  const scores = new Float32Array(users * k * n);
  for (let i = 0; i < ids.length; i++) {
    ids[i] = rng.int(items); // includes padding id 0 and duplicates
    scores[i] = Math.round(rng.normal() * 8) / 4; // coarse, so ties happen
  }
  return { ids, scores };
}

describe('controllableAggregate', () => {
  it('λ = 0 returns exactly the plain merge (ids, scores, order, padding, exclusions)', () => {
    const rng = new Random(1);
    const categories = Int32Array.from({ length: 60 }, () => rng.int(5));
    for (const [k, n, top] of [
      [4, 10, 10],
      [3, 5, 12],
      [2, 8, 3],
    ]) {
      const { ids, scores } = randomCandidates(rng, 20, k, n, 60);
      const exclude = Array.from({ length: 20 }, (_, u) => (u % 3 === 0 ? [1, 2, 3, 4, 5] : null));
      const plain = mergeInterestCandidatesBatch(ids, scores, k, n, top, exclude);
      const ctrl = controllableAggregateBatch(ids, scores, k, n, top, { categories, lambda: 0, exclude });
      assert.deepEqual([...ctrl.ids], [...plain.ids]);
      assert.deepEqual([...ctrl.scores], [...plain.scores]);
    }
  });

  it('λ > 0 greedily trades score for unseen categories (worked example)', () => {
    // Pooled candidates, score-sorted: 1 (a, 1.0), 2 (a, 0.9), 3 (a, 0.8), 4 (b, 0.5), 5 (c, 0.1).
    const ids = Int32Array.from([1, 2, 3, 4, 0, 5]);
    const scores = Float32Array.from([1.0, 0.9, 0.8, 0.5, 2.0, 0.1]);
    const categories = new Map([
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 1],
      [5, 2],
    ]);
    // λ = 0.3: pick 1; then 2 scores 0.9-0.3 = 0.6 > 4's 0.5 -> 2; then 3: 0.8-0.6 = 0.2 < 4's 0.5 -> 4;
    // then 3 (0.2) beats 5 (0.1) -> 3.
    const r = controllableAggregate(ids, scores, 2, 3, 4, { categories, lambda: 0.3 });
    assert.deepEqual([...r.ids], [1, 2, 4, 3]);
    assert.deepEqual([...r.scores], [f(1.0), f(0.9), f(0.5), f(0.8)], 'raw scores, in selection order');
    // λ = 1: round-robin over categories first.
    assert.deepEqual([...controllableAggregate(ids, scores, 2, 3, 4, { categories, lambda: 1 }).ids], [1, 4, 5, 2]);
    // Fewer candidates than k: padded like the plain merge.
    const long = controllableAggregate(ids, scores, 2, 3, 7, { categories, lambda: 1 });
    assert.deepEqual([...long.ids], [1, 4, 5, 2, 3, -1, -1]);
    assert.deepEqual([...long.scores].slice(5), [-Infinity, -Infinity]);
  });

  it('items without a category are never penalised', () => {
    const ids = Int32Array.from([1, 2, 3]);
    const scores = Float32Array.from([3, 2, 1]);
    const r = controllableAggregate(ids, scores, 1, 3, 3, { categories: [-1, 7, -1, 7], lambda: 5 });
    assert.deepEqual([...r.ids], [1, 2, 3]);
    const s = controllableAggregate(ids, scores, 1, 3, 3, { categories: [-1, 7, 7, 7], lambda: 5 });
    assert.deepEqual([...s.ids], [1, 2, 3]); // nothing else to choose from
  });

  it('λ > 0 raises category diversity (non-decreasing over λ = 0.05, 0.2, 1 on this data) and costs score', () => {
    const rng = new Random(2);
    const categories = Int32Array.from({ length: 200 }, () => rng.int(8));
    // Scores correlated with category, so the plain merge clusters on a few categories.
    const users = 30;
    const [k, n, top] = [4, 20, 20];
    const ids = new Int32Array(users * k * n);
    const scores = new Float32Array(users * k * n);
    for (let i = 0; i < ids.length; i++) {
      ids[i] = 1 + rng.int(199);
      scores[i] = categories[ids[i]] * 0.5 + rng.next();
    }
    const meanDiversity = (r: { ids: Int32Array }) => {
      let s = 0;
      for (let u = 0; u < users; u++) s += categoryDiversity(r.ids.subarray(u * top, (u + 1) * top), categories);
      return s / users;
    };
    const meanScore = (r: { scores: Float32Array }) => r.scores.reduce((a, x) => a + x, 0) / r.scores.length;
    const plain = mergeInterestCandidatesBatch(ids, scores, k, n, top);
    let prevDiversity = meanDiversity(plain);
    for (const lambda of [0.05, 0.2, 1]) {
      const r = controllableAggregateBatch(ids, scores, k, n, top, { categories, lambda });
      const d = meanDiversity(r);
      assert.ok(d >= prevDiversity - 1e-12, `λ=${lambda}: diversity ${d} < ${prevDiversity}`);
      assert.ok(meanScore(r) <= meanScore(plain) + 1e-6);
      prevDiversity = d;
    }
    assert.ok(prevDiversity > meanDiversity(plain) + 0.1, `diversity ${meanDiversity(plain)} -> ${prevDiversity}`);
  });

  it('matches a brute-force greedy (every candidate rescored every step)', () => {
    const rng = new Random(3);
    const categories = Int32Array.from({ length: 40 }, () => rng.int(4));
    for (let trial = 0; trial < 30; trial++) {
      const { ids, scores } = randomCandidates(rng, 1, 3, 6, 40);
      const lambda = rng.next() * 2;
      const got = controllableAggregate(ids, scores, 3, 6, 8, { categories, lambda });
      // Reference: best score per id, sorted by score then id; each step the first maximum of Q.
      const best = new Map<number, number>();
      ids.forEach((id, i) => {
        if (id > 0 && !(best.get(id)! >= scores[i])) best.set(id, scores[i]);
      });
      const cand = [...best.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      const counts = new Map<number, number>();
      const want: number[] = [];
      while (want.length < 8 && cand.length) {
        let bi = 0;
        let bq = -Infinity;
        cand.forEach(([id, s], j) => {
          const q = s - lambda * (counts.get(categories[id]) ?? 0);
          if (q > bq) {
            bq = q;
            bi = j;
          }
        });
        const [id] = cand.splice(bi, 1)[0];
        want.push(id);
        counts.set(categories[id], (counts.get(categories[id]) ?? 0) + 1);
      }
      while (want.length < 8) want.push(-1);
      assert.deepEqual([...got.ids], want, `trial ${trial}`);
    }
  });

  it('single-user and batch forms agree; arguments are checked', () => {
    const rng = new Random(4);
    const categories = Int32Array.from({ length: 30 }, () => rng.int(3));
    const { ids, scores } = randomCandidates(rng, 3, 2, 5, 30);
    const batch = controllableAggregateBatch(ids, scores, 2, 5, 4, { categories, lambda: 0.5 });
    for (let u = 0; u < 3; u++) {
      const one = controllableAggregate(ids.subarray(u * 10, u * 10 + 10), scores.subarray(u * 10, u * 10 + 10), 2, 5, 4, { categories, lambda: 0.5 });
      assert.deepEqual([...one.ids], [...batch.ids.subarray(u * 4, u * 4 + 4)]);
    }
    assert.deepEqual(
      [...controllableAggregate(ids.subarray(0, 10), scores.subarray(0, 10), 2, 5, 4, { categories, lambda: 0 }).ids],
      [...mergeInterestCandidates(ids.subarray(0, 10), scores.subarray(0, 10), 2, 5, 4).ids],
    );
    assert.throws(() => controllableAggregate(ids.subarray(0, 10), scores.subarray(0, 10), 2, 5, 4, { categories, lambda: -1 }), /lambda/);
    assert.throws(() => controllableAggregate(ids.subarray(0, 9), scores.subarray(0, 9), 2, 5, 4, { categories, lambda: 1 }), /interests \* perInterest/);
    assert.throws(() => controllableAggregateBatch(ids, scores, 2, 5, 4, { categories, lambda: 1, exclude: [null] }), /exclude/);
    assert.throws(() => controllableAggregate(ids.subarray(0, 10), scores.subarray(0, 10), 2, 5, 0, { categories, lambda: 1 }), /k must/);
  });
});

describe('categoryDiversity', () => {
  it("is ComiRec's share of item pairs in different categories", () => {
    const cats = [0, 5, 5, 6, 7];
    assert.equal(categoryDiversity([1, 2], cats), 0);
    assert.equal(categoryDiversity([1, 2, 3], cats), 2 / 3);
    assert.equal(categoryDiversity([1, 3, 4], cats), 1);
    assert.equal(categoryDiversity([1, 2, 3, 4, -1, 0], cats), 5 / 6);
    assert.equal(categoryDiversity([1], cats), 0);
  });
});
