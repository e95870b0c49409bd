import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateRankings, MetricAccumulator, METRIC_NAMES, ndcg, recall } from '../../src/metrics/index.js';
import { SeqrecError } from '../../src/errors.js';
import { Random } from '../../src/util/random.js';

const close = (got: number, want: number, msg?: string) => assert.ok(Math.abs(got - want) < 1e-12, `${msg ?? ''} got ${got}, want ${want}`);

// u0: ranked [5,3,9,1], targets [3,1,7] -> hits at ranks 1 and 3
// u1: ranked [2,4,6,8], targets [8]     -> hit at rank 3
// u2: ranked [1,2,3,4], targets [9]     -> no hit
const lists = [
  [5, 3, 9, 1],
  [2, 4, 6, 8],
  [1, 2, 3, 4],
];
const targets = [[3, 1, 7], [8], [9]];
const matrix = { ids: Int32Array.from(lists.flat()), k: 4 };

describe('evaluateRankings', () => {
  it('averages every metric over users, users without hits counting 0', () => {
    const r = evaluateRankings(lists, targets, { ns: [2, 4] });
    close(r['recall@2'], (1 / 3 + 0 + 0) / 3); // = 1/9
    close(r['recall@4'], (2 / 3 + 1 + 0) / 3); // = 5/9
    close(r['hitRate@2'], (1 + 0 + 0) / 3);
    close(r['hitRate@4'], (1 + 1 + 0) / 3);
    close(r['mrr@4'], (1 / 2 + 1 / 4 + 0) / 3); // = 0.25
    // u0: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3 + 1/log2 4); u1: (1/log2 5) / 1
    const u0 = (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3) + 1 / Math.log2(4));
    close(r['ndcg@4'], (u0 + 1 / Math.log2(5) + 0) / 3);
    close(r['ndcgComiRec@4'], (1 + 1 + 0) / 3); // both hitting users have ComiRec-NDCG 1
    assert.equal(r.users, 3);
    const keys = METRIC_NAMES.flatMap((m) => [`${m}@2`, `${m}@4`]).concat('users');
    assert.deepEqual(Object.keys(r), keys);
  });

  it('gives the same report for the matrix layout, lists and a streamed accumulator', () => {
    const a = evaluateRankings(lists, targets, { ns: [1, 3, 4] });
    const b = evaluateRankings(matrix, targets, { ns: [1, 3, 4] });
    const acc = new MetricAccumulator({ ns: [1, 3, 4] });
    acc.add({ ids: Int32Array.from(lists[0]), k: 4 }, [targets[0]]);
    acc.add(lists.slice(1), targets.slice(1));
    assert.equal(acc.users, 3);
    assert.deepEqual(b, a);
    assert.deepEqual(acc.result(), a);
  });

  it('reports only the requested metrics', () => {
    const r = evaluateRankings(matrix, targets, { ns: [4], metrics: ['recall', 'ndcgComiRec'] });
    assert.deepEqual(Object.keys(r), ['recall@4', 'ndcgComiRec@4', 'users']);
  });

  it('matches the per-user functions on random data', () => {
    const rng = new Random(7);
    const users = 40;
    const k = 30;
    const ids = new Int32Array(users * k);
    const tg: number[][] = [];
    for (let u = 0; u < users; u++) {
      // distinct items per row, as a retriever returns, with -1 tail on some rows
      const row = rng.shuffle(Array.from({ length: 60 }, (_, i) => i + 1)).slice(0, k);
      const tail = u % 5 === 0 ? 7 : 0;
      for (let j = 0; j < k; j++) ids[u * k + j] = j >= k - tail ? -1 : row[j];
      tg.push(Array.from({ length: 1 + rng.int(6) }, () => 1 + rng.int(60)));
    }
    const r = evaluateRankings({ ids, k }, tg, { ns: [10, 30], metrics: ['recall', 'ndcg'] });
    let rec = 0;
    let nd = 0;
    for (let u = 0; u < users; u++) {
      rec += recall(ids.subarray(u * k, (u + 1) * k), tg[u], 10);
      nd += ndcg(ids.subarray(u * k, (u + 1) * k), tg[u], 30);
    }
    close(r['recall@10'], rec / users);
    close(r['ndcg@30'], nd / users);
    assert.ok(r['recall@10'] > 0 && r['recall@10'] <= r['recall@30']); // the test data does contain hits
  });

  it('rejects bad input with errors naming the problem', () => {
    const is = (code: string, re: RegExp) => (e: unknown) => e instanceof SeqrecError && e.code === code && re.test(e.message);
    assert.throws(() => evaluateRankings(lists, targets, { ns: [5] }), is('invalid_argument', /n=5.*length 4.*user 0/));
    assert.throws(() => evaluateRankings(lists, targets.slice(0, 2), { ns: [2] }), is('shape_mismatch', /3 ranked lists and 2 target lists/));
    assert.throws(() => evaluateRankings(lists, [[3], [], [1]], { ns: [2] }), is('invalid_argument', /user 1/));
    assert.throws(() => evaluateRankings(lists, targets, { ns: [] }), is('invalid_argument', /ns/));
    assert.throws(() => evaluateRankings(lists, targets, { ns: [0] }), is('invalid_argument', /got 0/));
    assert.throws(
      // @ts-expect-error: an unknown metric name is a type error too
      () => evaluateRankings(lists, targets, { ns: [2], metrics: ['precision'] }),
      is('invalid_argument', /precision/),
    );
    assert.throws(() => evaluateRankings({ ids: new Int32Array(10), k: 4 }, targets, { ns: [2] }), is('shape_mismatch', /multiple of k=4/));
    assert.throws(() => evaluateRankings([], [], { ns: [2] }), is('data_empty', /no users/));
    assert.throws(() => new MetricAccumulator({ ns: [2] }).result(), is('data_empty', /no users/));
  });

  it('names the global user index when streaming', () => {
    const acc = new MetricAccumulator({ ns: [2] });
    acc.add(lists, targets);
    assert.throws(
      () => acc.add([[1, 2]], [[]]),
      (e: unknown) => e instanceof SeqrecError && /user 3/.test(e.message),
    );
  });
});
