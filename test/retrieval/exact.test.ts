import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExactRetriever, type SearchResult } from '../../src/retrieval/index.js';
import { SeqrecError } from '../../src/errors.js';
import { Random } from '../../src/util/random.js';
import { randomVectors, retrieverContract } from './contract.js';

const f = Math.fround;

/**
 * Naive oracle: score every real item of every interest in float64 (dot product summed in
 * index order; cosine = dot / (|a| |b|), 0 for zero vectors), round to float32, drop 0 and
 * excluded ids, full sort by (score desc, id asc), pool interests keeping each item's best
 * score, keep the first k.
 */
function oracle(
  items: Float32Array,
  dim: number,
  queries: Float32Array,
  k: number,
  interests: number,
  metric: 'ip' | 'cosine',
  exclude?: ReadonlyArray<ArrayLike<number> | null | undefined>,
): { ids: number[][]; scores: number[][]; all: Map<number, number>[] } {
  const numItems = items.length / dim;
  const norm = (a: Float32Array, off: number) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += a[off + j] * a[off + j];
    return Math.sqrt(s);
  };
  const users = queries.length / (interests * dim);
  const out = { ids: [] as number[][], scores: [] as number[][], all: [] as Map<number, number>[] };
  for (let u = 0; u < users; u++) {
    const ex = new Set(Array.from(exclude?.[u] ?? []));
    const best = new Map<number, number>();
    for (let t = 0; t < interests; t++) {
      const qo = (u * interests + t) * dim;
      const scored: [number, number][] = [];
      for (let i = 1; i < numItems; i++) {
        if (ex.has(i)) continue;
        let s = 0;
        for (let j = 0; j < dim; j++) s += items[i * dim + j] * queries[qo + j];
        if (metric === 'cosine') {
          const nn = norm(items, i * dim) * norm(queries, qo);
          s = nn === 0 ? 0 : s / nn;
        }
        scored.push([i, f(s)]);
      }
      scored.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
      for (const [i, s] of scored.slice(0, k)) if (!best.has(i) || s > best.get(i)!) best.set(i, s);
    }
    const pooled = [...best].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
    out.ids.push(pooled.map((p) => p[0]));
    out.scores.push(pooled.map((p) => p[1]));
    out.all.push(best);
  }
  return out;
}

function row(r: SearchResult, u: number): { ids: number[]; scores: number[] } {
  return { ids: [...r.ids.subarray(u * r.k, (u + 1) * r.k)], scores: [...r.scores.subarray(u * r.k, (u + 1) * r.k)] };
}

describe('ExactRetriever vs brute-force oracle', () => {
  const rng = new Random(2024);
  const cases: { dim: number; numItems: number; users: number; k: number; interests: number; ties?: boolean }[] = [
    { dim: 1, numItems: 40, users: 3, k: 5, interests: 1 },
    { dim: 3, numItems: 200, users: 7, k: 10, interests: 1 },
    { dim: 16, numItems: 1000, users: 37, k: 50, interests: 1 }, // 37 rows: crosses the 32-query block, odd remainder
    { dim: 64, numItems: 2051, users: 9, k: 20, interests: 1 }, // several 512-item blocks, odd item count
    { dim: 67, numItems: 300, users: 5, k: 1, interests: 1 },
    { dim: 8, numItems: 500, users: 11, k: 15, interests: 4 },
    { dim: 32, numItems: 800, users: 6, k: 30, interests: 3 },
    // small integer vectors: many exactly tied scores, which must be ordered by id
    { dim: 4, numItems: 700, users: 13, k: 40, interests: 1, ties: true },
    { dim: 3, numItems: 300, users: 5, k: 25, interests: 2, ties: true },
  ];
  for (const metric of ['ip', 'cosine'] as const) {
    for (const c of cases) {
      it(`${metric} dim=${c.dim} items=${c.numItems} users=${c.users} K=${c.interests} k=${c.k}${c.ties ? ' (ties)' : ''}, with exclusions`, () => {
        const draw = (n: number) => (c.ties ? Float32Array.from({ length: n }, () => rng.int(5) - 2) : randomVectors(rng, n));
        const items = draw(c.numItems * c.dim);
        const queries = draw(c.users * c.interests * c.dim);
        // Exclude some of each user's true best items (so exclusion changes the answer), a
        // random tail, and nothing for every third user.
        const plain = oracle(items, c.dim, queries, c.k, c.interests, metric);
        const exclude = plain.ids.map((ids, u) =>
          u % 3 === 2 ? null : [...ids.filter((_, r) => r % 2 === 0), ...Array.from({ length: 5 }, () => rng.int(c.numItems))],
        );
        const want = oracle(items, c.dim, queries, c.k, c.interests, metric, exclude);
        const retriever = new ExactRetriever(items, c.dim, { metric, native: false });
        const got = retriever.search(queries, { k: c.k, interests: c.interests, exclude });
        assert.equal(got.numQueries, c.users);
        assert.equal(got.k, c.k);
        assert.equal(got.ids.length, c.users * c.k);
        for (let u = 0; u < c.users; u++) {
          const g = row(got, u);
          assert.ok(want.ids[u].length === c.k, 'enough items for a full list');
          if (metric === 'ip') {
            // Same float64 arithmetic in the same order: identical, bit for bit.
            assert.deepEqual(g.ids, want.ids[u], `user ${u}`);
            assert.deepEqual(g.scores, want.scores[u], `user ${u}`);
          } else {
            // Cosine normalises in float32 first: scores agree to float32 precision; ids may
            // only differ between near-tied items.
            const ex = new Set(exclude[u] ?? []);
            for (let r = 0; r < c.k; r++) {
              assert.ok(Math.abs(g.scores[r] - want.scores[u][r]) < 1e-5, `user ${u} rank ${r}: ${g.scores[r]} vs ${want.scores[u][r]}`);
              if (g.ids[r] !== want.ids[u][r]) {
                const s = want.all[u].get(g.ids[r]) ?? oracleScore(items, queries, c, u, g.ids[r]);
                assert.ok(Math.abs(s - want.scores[u][r]) < 1e-5, `user ${u} rank ${r}: id ${g.ids[r]} is not a near-tie`);
              }
              assert.ok(g.ids[r] > 0 && !ex.has(g.ids[r]), `user ${u}: returned padding or excluded id ${g.ids[r]}`);
            }
            assert.equal(new Set(g.ids).size, c.k, 'ids are distinct');
          }
        }
        // Exclusions changed the answer (the test would not notice them being ignored otherwise).
        assert.notDeepEqual(row(got, 0).ids, plain.ids[0]);
        retriever.dispose();
      });
    }
  }
});

/** Best cosine score of `id` over user u's interests (for near-tie checks). */
function oracleScore(items: Float32Array, queries: Float32Array, c: { dim: number; interests: number }, u: number, id: number): number {
  let best = -Infinity;
  for (let t = 0; t < c.interests; t++) {
    const qo = (u * c.interests + t) * c.dim;
    let s = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < c.dim; j++) {
      s += items[id * c.dim + j] * queries[qo + j];
      na += items[id * c.dim + j] ** 2;
      nb += queries[qo + j] ** 2;
    }
    best = Math.max(best, f(s / Math.sqrt(na * nb)));
  }
  return best;
}

describe('ExactRetriever behaviour', () => {
  it('never returns padding row 0, even when it has the highest score', () => {
    // dim 2; row 0 = [100, 100] dominates every query with positive components.
    const items = Float32Array.from([100, 100, 1, 0, 0, 1, 0.5, 0.5]);
    for (const metric of ['ip', 'cosine'] as const) {
      const r = new ExactRetriever(items, 2, { metric });
      const res = r.search(Float32Array.from([1, 1, 2, 1]), { k: 3 });
      assert.ok(!res.ids.includes(0), `${metric}: ${[...res.ids]}`);
      // query [2,1] by ip: item 1 -> 2, item 3 -> 1.5, item 2 -> 1
      if (metric === 'ip') assert.deepEqual([...res.ids.subarray(3)], [1, 3, 2]);
    }
  });

  it('pads with -1 / -Infinity when k exceeds the real items or exclusions leave fewer', () => {
    // 3 real items (rows 1..3), dim 1, scores = value * query
    const r = new ExactRetriever(Float32Array.from([9, 1, 3, 2]), 1);
    const res = r.search(Float32Array.from([1, 1]), { k: 5, exclude: [null, [3, 1]] });
    assert.deepEqual([...res.ids], [2, 3, 1, -1, -1, 2, -1, -1, -1, -1]);
    assert.deepEqual([...res.scores.subarray(0, 5)], [3, 2, 1, -Infinity, -Infinity]);
    // Only the padding row: every slot empty.
    const empty = new ExactRetriever(Float32Array.from([1, 2]), 2).search(Float32Array.from([1, 1]), { k: 2 });
    assert.deepEqual([...empty.ids], [-1, -1]);
  });

  it('breaks score ties by the lower item id', () => {
    // items 1..4: [1,0], [0,1], [1,0], [1,0]; query [1,0] -> items 1,3,4 tie at 1
    const r = new ExactRetriever(Float32Array.from([0, 0, 1, 0, 0, 1, 1, 0, 1, 0]), 2);
    assert.deepEqual([...r.search(Float32Array.from([1, 0]), { k: 4 }).ids], [1, 3, 4, 2]);
  });

  it('merges interests: duplicates keep their best score, exclusions apply to every interest', () => {
    // dim 2; interest A = [1,0] scores items by x, interest B = [0,1] by y.
    //   0: [10,10] padding; 1: [1,0.2]; 2: [0.5,0.9]; 3: [0.7,0.85]; 4: [0.1,0.3]
    // k=3: A top3 = 1 (1), 3 (0.7), 2 (0.5); B top3 = 2 (0.9), 3 (0.85), 4 (0.3)
    // pooled best: 1 -> 1, 2 -> 0.9, 3 -> 0.85, 4 -> 0.3  => [1, 2, 3]
    // user 1 = same interests in the other order, excluding 2:
    //   A: 1 (1), 3 (0.7), 4 (0.1); B: 3 (0.85), 4 (0.3), 1 (0.2) => 1 -> 1, 3 -> 0.85, 4 -> 0.3
    const items = Float32Array.from([10, 10, 1, 0.2, 0.5, 0.9, 0.7, 0.85, 0.1, 0.3]);
    const r = new ExactRetriever(items, 2);
    const res = r.search(Float32Array.from([1, 0, 0, 1, 0, 1, 1, 0]), { k: 3, interests: 2, exclude: [[], [2]] });
    assert.equal(res.numQueries, 2);
    assert.deepEqual([...res.ids], [1, 2, 3, 1, 3, 4]);
    assert.deepEqual([...res.scores], [1, f(0.9), f(0.85), 1, f(0.85), f(0.3)]);
  });

  it('cosine keeps zero rows at zero and handles a zero query', () => {
    // items 1: [3,4] -> [0.6,0.8]; 2: [0,0] stays 0; 3: [-1,0]
    const r = new ExactRetriever(Float32Array.from([0, 0, 3, 4, 0, 0, -1, 0]), 2, { metric: 'cosine' });
    const res = r.search(Float32Array.from([0, 2, 0, 0]), { k: 3 });
    // query [0,2] -> [0,1]: item 1 -> 0.8, item 2 -> 0, item 3 -> 0
    assert.deepEqual([...res.ids.subarray(0, 3)], [1, 2, 3]);
    assert.deepEqual([...res.scores.subarray(0, 3)], [f(0.8), 0, 0]);
    // zero query: all scores 0 -> ids ascending
    assert.deepEqual([...res.ids.subarray(3)], [1, 2, 3]);
    assert.equal(r.metric, 'cosine');
    assert.equal(r.numItems, 4);
    assert.equal(r.dim, 2);
  });

  it('works on a copy of the item matrix', () => {
    const items = Float32Array.from([0, 1, 2, 3]);
    const r = new ExactRetriever(items, 1);
    items[1] = 100;
    assert.deepEqual([...r.search(Float32Array.from([1]), { k: 1 }).ids], [3]);
  });

  it('returns an empty result for zero queries', () => {
    const res = new ExactRetriever(new Float32Array(8), 2).search(new Float32Array(0), { k: 3 });
    assert.equal(res.numQueries, 0);
    assert.equal(res.ids.length, 0);
  });
});

describe('ExactRetriever errors', () => {
  const is = (code: string, re: RegExp) => (e: unknown) => e instanceof SeqrecError && e.code === code && re.test(e.message);
  const items = new Float32Array(5 * 4); // 5 rows, dim 4

  it('validates the constructor arguments', () => {
    assert.throws(() => new ExactRetriever(items, 0), is('invalid_argument', /dim must be an integer >= 1, got 0/));
    assert.throws(() => new ExactRetriever(items, 2.5), is('invalid_argument', /got 2.5/));
    assert.throws(() => new ExactRetriever(items, 3), is('shape_mismatch', /multiple of dim=3.*got 20/));
    assert.throws(() => new ExactRetriever(new Float32Array(0), 3), is('shape_mismatch', /padding/));
    assert.throws(() => new ExactRetriever(Float32Array.from([0, NaN]), 1), is('invalid_argument', /item 1/));
    // @ts-expect-error: metric is 'ip' | 'cosine'
    assert.throws(() => new ExactRetriever(items, 4, { metric: 'l2' }), is('invalid_argument', /metric/));
  });

  it('validates search arguments', () => {
    const r = new ExactRetriever(items, 4);
    assert.throws(() => r.search(new Float32Array(6), { k: 2 }), is('shape_mismatch', /interests \* dim = 1 \* 4 = 4.*got 6.*item dim 4/));
    assert.throws(() => r.search(new Float32Array(12), { k: 2, interests: 2 }), is('shape_mismatch', /2 \* 4 = 8.*got 12/));
    assert.throws(() => r.search(new Float32Array(4), { k: 0 }), is('invalid_argument', /k must be an integer >= 1, got 0/));
    assert.throws(() => r.search(new Float32Array(4), { k: 1.5 }), is('invalid_argument', /got 1.5/));
    assert.throws(() => r.search(new Float32Array(4), { k: 2, interests: 0 }), is('invalid_argument', /interests/));
    assert.throws(() => r.search(new Float32Array(8), { k: 2, exclude: [null] }), is('shape_mismatch', /one entry per query row \(2\), got 1/));
    assert.throws(() => r.search(Float32Array.from([0, Infinity, 0, 0]), { k: 2 }), is('invalid_argument', /finite.*query 0.*component 1/));
  });
});

retrieverContract('ExactRetriever (JavaScript)', (items, dim, metric) => new ExactRetriever(items, dim, { metric, native: false }), {
  exact: true,
  tolerance: 0,
});
retrieverContract('ExactRetriever (native when built)', (items, dim, metric) => new ExactRetriever(items, dim, { metric }), { exact: true });
