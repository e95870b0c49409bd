import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRankings, hitRate, mrr, ndcg, ndcgComiRec, ndcgComiRecMaster, recall, recallComiRecPaper } from '../../src/metrics/index.js';
import { SeqrecError } from '../../src/errors.js';

const close = (got: number, want: number, msg?: string) => assert.ok(Math.abs(got - want) < 1e-12, `${msg ?? ''} got ${got}, want ${want}`);
const d = (r: number) => 1 / Math.log2(r + 2); // discount of 0-based rank r
/** For values worked out by hand to 7 digits. */
const near = (got: number, want: number) => assert.ok(Math.abs(got - want) < 5e-7, `got ${got}, want ${want}`);

// Running example: ranked [5,3,9,1], targets [3,1,7]. Hits: 3 at rank 1, 1 at rank 3.
const ranked = [5, 3, 9, 1];
const targets = [3, 1, 7];

describe('recall', () => {
  it('counts distinct hits in the top-n over |targets|', () => {
    assert.equal(recall(ranked, targets, 1), 0); // {5}: no hit
    close(recall(ranked, targets, 2), 1 / 3); // {5,3}: 3 -> 1/3
    close(recall(ranked, targets, 3), 1 / 3); // {5,3,9}
    close(recall(ranked, targets, 4), 2 / 3); // {5,3,9,1}: 3 and 1 -> 2/3
  });

  it('counts duplicate targets in the denominator and repeated ranked items once', () => {
    // ranked [3,3,8,2], targets [3,3,2]: distinct hits {3,2} = 2, |targets| = 3 -> 2/3
    close(recall([3, 3, 8, 2], [3, 3, 2], 4), 2 / 3);
    // top-2 = [3,3]: one distinct hit -> 1/3
    close(recall([3, 3, 8, 2], [3, 3, 2], 2), 1 / 3);
  });

  it('accepts typed arrays', () => {
    close(recall(Int32Array.from(ranked), Int32Array.from(targets), 4), 2 / 3);
  });
});

describe('hitRate', () => {
  it('is 1 iff some top-n item is a target', () => {
    assert.equal(hitRate(ranked, targets, 1), 0);
    assert.equal(hitRate(ranked, targets, 2), 1);
    assert.equal(hitRate(ranked, [42], 4), 0);
  });
});

describe('mrr', () => {
  it('is the reciprocal rank of the first hit within the top-n', () => {
    assert.equal(mrr(ranked, targets, 1), 0); // no hit in {5}
    close(mrr(ranked, targets, 4), 1 / 2); // first hit (3) at rank 1 -> 1/(1+1)
    close(mrr([8, 2, 6], [6], 3), 1 / 3); // hit at rank 2 -> 1/3
    assert.equal(mrr([8, 2, 6], [6], 2), 0);
  });
});

describe('ndcg (standard)', () => {
  it('discounts by rank and normalises by the ideal list', () => {
    // DCG = d(1) + d(3) = 1/log2 3 + 1/log2 5; IDCG = d(0)+d(1)+d(2) = 1 + 1/log2 3 + 1/log2 4 (3 distinct targets)
    close(ndcg(ranked, targets, 4), (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3) + 1 / Math.log2(4)));
    // @2: DCG = 1/log2 3; IDCG over min(3,2) = 2 ranks = 1 + 1/log2 3
    close(ndcg(ranked, targets, 2), 1 / Math.log2(3) / (1 + 1 / Math.log2(3)));
    assert.equal(ndcg(ranked, targets, 1), 0);
  });

  it('depends on the order inside the top-n', () => {
    // [1,9,3,5]: hits at ranks 0 and 2 -> (1 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4) = 1.5 / 2.1309...
    close(ndcg([1, 9, 3, 5], targets, 4), (1 + 0.5) / (1 + 1 / Math.log2(3) + 0.5));
    assert.notEqual(ndcg([1, 9, 3, 5], targets, 4), ndcg(ranked, targets, 4));
  });

  it('uses distinct targets for the ideal and counts repeated ranked items once', () => {
    // ranked [3,3,8,2], targets [3,3,2]: DCG = d(0) + d(3) = 1 + 1/log2 5 (second 3 ignored)
    // IDCG over min(2 distinct, 4) = 2 ranks = 1 + 1/log2 3
    close(ndcg([3, 3, 8, 2], [3, 3, 2], 4), (1 + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3)));
  });

  it('is 1 for a perfect list', () => {
    close(ndcg([4, 2, 9], [2, 4], 3), 1); // hits at ranks 0,1; ideal has 2 ranks
  });
});

describe('ndcgComiRec', () => {
  it('discounts by position in the target list and normalises by the hits', () => {
    // walk targets [3,1,7] over S = {5,3,9,1}: 3 (no 0) in S -> 1; 1 (no 1) in S -> 1/log2 3; 7 not.
    // hits = 2, idcg = 1 + 1/log2 3 -> 1, although standard ndcg@4 is ~0.498
    close(ndcgComiRec(ranked, targets, 4), 1);
    assert.ok(ndcg(ranked, targets, 4) < 0.5);
    // @2: S = {5,3}: 3 at no 0 -> dcg 1, hits 1, idcg 1 -> 1 (standard ndcg@2 ~0.387)
    close(ndcgComiRec(ranked, targets, 2), 1);
    assert.equal(ndcgComiRec(ranked, targets, 1), 0); // no hit
  });

  it('is independent of the order inside the top-n', () => {
    for (const perm of [
      [1, 9, 3, 5],
      [9, 5, 1, 3],
      [3, 1, 5, 9],
    ]) {
      close(ndcgComiRec(perm, targets, 4), 1, `perm ${perm}`);
    }
  });

  it('depends on the order of the targets', () => {
    // targets [7,3,1]: 3 at no 1 -> 1/log2 3, 1 at no 2 -> 1/log2 4; hits 2, idcg = 1 + 1/log2 3
    close(ndcgComiRec(ranked, [7, 3, 1], 4), (1 / Math.log2(3) + 0.5) / (1 + 1 / Math.log2(3)));
  });

  it('counts duplicate targets as separate hits, like ComiRec', () => {
    // targets [3,3,2] over S = {3,8,2}: no 0,1,2 all hit -> dcg = d(0)+d(1)+d(2); hits 3 -> idcg equal -> 1
    close(ndcgComiRec([3, 3, 8, 2], [3, 3, 2], 4), 1);
    // targets [9,3,3] over S = {3,8}: no 1 and no 2 hit -> (d(1)+d(2)) / (d(0)+d(1))
    close(ndcgComiRec([3, 8], [9, 3, 3], 2), (d(1) + d(2)) / (d(0) + d(1)));
  });
});

describe('ComiRec variants on duplicate targets (hand-computed)', () => {
  // ranked [5, 3, 8, 2], targets [3, 3, 9, 2]: distinct hits 3 (rank 1) and 2 (rank 3);
  // target positions 0, 1 (item 3) and 3 (item 2) are retrieved, position 2 (item 9) is not.
  const r = [5, 3, 8, 2];
  const t = [3, 3, 9, 2];
  it('recall (master: distinct hits / |targets|) vs recallComiRecPaper (every occurrence)', () => {
    close(recall(r, t, 4), 2 / 4);
    close(recallComiRecPaper(r, t, 4), 3 / 4);
    close(recall(r, t, 2), 1 / 4);
    close(recallComiRecPaper(r, t, 2), 2 / 4);
    assert.equal(recallComiRecPaper(r, t, 1), 0);
    // Every occurrence retrieved: paper recall reaches 1, master recall cannot.
    close(recallComiRecPaper([3, 2], [3, 3, 2], 2), 1);
    close(recall([3, 2], [3, 3, 2], 2), 2 / 3);
    // Without duplicates the two agree.
    close(recallComiRecPaper([3, 7, 9, 1, 5], [4, 9, 7], 5), recall([3, 7, 9, 1, 5], [4, 9, 7], 5));
  });
  it('ndcgComiRecMaster: discount by retrieved rank, IDCG over the number of hits', () => {
    // (d(1) + d(3)) / (d(0) + d(1)) = (0.630930 + 0.430677) / 1.630930
    near(ndcgComiRecMaster(r, t, 4), 0.6509209);
    near(ndcgComiRecMaster(r, t, 2), 0.6309298); // d(1) / d(0)
    assert.equal(ndcgComiRecMaster(r, t, 1), 0);
    // Hits filling the first ranks give 1 however many targets were missed.
    close(ndcgComiRecMaster([3, 2, 8], [3, 2, 9, 10, 11], 3), 1);
    // Rank order matters (unlike the paper branch's formula).
    close(ndcgComiRecMaster([8, 3, 2], [3, 2], 3), (d(1) + d(2)) / (d(0) + d(1)));
  });
  it('ndcgComiRec (paper branch): discount by target position, duplicates each a hit', () => {
    // positions 0, 1, 3 hit: (d(0) + d(1) + d(3)) / (d(0) + d(1) + d(2))
    near(ndcgComiRec(r, t, 4), 0.967468);
    close(ndcgComiRec(r, t, 2), 1); // positions 0 and 1 hit
  });
  it('standard ndcg on the same case', () => {
    near(ndcg(r, t, 4), 0.4981893); // (d(1) + d(3)) / (d(0) + d(1) + d(2)): 3 distinct targets
  });
  it('evaluateRankings reports the variants by name', () => {
    const rep = evaluateRankings([r], [t], { ns: [4], metrics: ['recall', 'recallComiRecPaper', 'ndcgComiRecMaster', 'ndcgComiRec'] });
    assert.deepEqual(Object.keys(rep), ['recall@4', 'recallComiRecPaper@4', 'ndcgComiRecMaster@4', 'ndcgComiRec@4', 'users']);
    close(rep['recallComiRecPaper@4'], 0.75);
    near(rep['ndcgComiRecMaster@4'], 0.6509209);
  });
});

describe('negative entries ("no item")', () => {
  it('never hit but keep their slot', () => {
    const padded = [-1, 4, -1, -1];
    assert.equal(recall(padded, [4], 1), 0);
    assert.equal(recall(padded, [4], 2), 1);
    close(ndcg(padded, [4], 4), 1 / Math.log2(3)); // hit at rank 1; IDCG = d(0) = 1
    close(mrr(padded, [4], 4), 0.5);
    assert.equal(recall([-1, -1], [-1], 2), 0); // -1 is never an item, even if listed as a target
  });
});

describe('argument errors', () => {
  const fns = { recall, recallComiRecPaper, hitRate, ndcg, ndcgComiRec, ndcgComiRecMaster, mrr };
  for (const [name, fn] of Object.entries(fns)) {
    it(`${name} rejects n > list length, n < 1, non-integer n and empty targets`, () => {
      assert.throws(
        () => fn(ranked, targets, 5),
        (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_argument' && /n=5/.test(e.message) && /length 4/.test(e.message),
      );
      assert.throws(
        () => fn(ranked, targets, 0),
        (e: unknown) => e instanceof SeqrecError && /got 0/.test(e.message),
      );
      assert.throws(
        () => fn(ranked, targets, 1.5),
        (e: unknown) => e instanceof SeqrecError && /got 1.5/.test(e.message),
      );
      assert.throws(
        () => fn(ranked, [], 2),
        (e: unknown) => e instanceof SeqrecError && /targets/.test(e.message) && /empty/.test(e.message),
      );
    });
  }
});
