/**
 * The native retrieval paths against the JavaScript ones: ExactRetriever with the addon's
 * sgemm kernel vs `native: false` (same lists ties aside, scores within 1e-4), and
 * FaissRetriever's typed search (searchTyped, native re-scoring) vs faiss-node's array API.
 * Skipped where the addon / the patched faiss-node is absent, unless SEQREC_REQUIRE_NATIVE=1.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExactRetriever, FaissRetriever, faissAvailable, type SearchResult } from '../../src/retrieval/index.js';
import { retrievalKernels } from '../../src/retrieval/native-kernels.js';
import { loadFaissNode, type FaissIndex } from '../../src/retrieval/faiss/native.js';
import { Random } from '../../src/util/random.js';

const REQUIRED = process.env.SEQREC_REQUIRE_NATIVE === '1';
const NATIVE = retrievalKernels() !== null;
const skipNative = NATIVE || REQUIRED ? false : 'native addon not built (npm run setup:native)';

function randomVectors(rng: Random, length: number): Float32Array {
  const a = new Float32Array(length);
  for (let i = 0; i < length; i++) a[i] = rng.normal();
  return a;
}

/** float64 score of item `id` for user row `row` (metric ip; K = 1). */
function score(items: Float32Array, dim: number, q: Float32Array, row: number, id: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += items[id * dim + j] * q[row * dim + j];
  return s;
}

/**
 * Same lists ties aside: at every rank both sides return an item (or both -1), the scores
 * agree within `tol`, and where the ids differ the native item is as good as the JavaScript
 * one within `tol` (a near-tie ordered differently by float32 rounding).
 */
function assertSameTiesAside(got: SearchResult, want: SearchResult, tol: number, trueScore: (u: number, id: number) => number, what: string): void {
  assert.equal(got.numQueries, want.numQueries, `${what}: numQueries`);
  assert.equal(got.k, want.k);
  for (let i = 0; i < want.ids.length; i++) {
    const u = Math.floor(i / want.k);
    const [g, w] = [got.ids[i], want.ids[i]];
    assert.equal(g < 0, w < 0, `${what}: user ${u} slot ${i % want.k}: ${g} vs ${w}`);
    if (w < 0) continue;
    assert.ok(Math.abs(got.scores[i] - want.scores[i]) <= tol, `${what}: score ${got.scores[i]} vs ${want.scores[i]}`);
    assert.ok(Math.abs(got.scores[i] - trueScore(u, g)) <= tol, `${what}: returned score of ${g} is not its score`);
    if (g !== w) assert.ok(Math.abs(trueScore(u, g) - trueScore(u, w)) <= 2 * tol, `${what}: user ${u}: ${g} vs ${w} are not tied`);
  }
  for (let u = 0; u < got.numQueries; u++) {
    const row = Array.from(got.ids.subarray(u * got.k, (u + 1) * got.k)).filter((id) => id >= 0);
    assert.equal(new Set(row).size, row.length, `${what}: duplicate ids for user ${u}`);
  }
}

describe('ExactRetriever: native sgemm kernel vs JavaScript', { skip: skipNative }, () => {
  it('is used when the addon loads', () => {
    assert.equal(new ExactRetriever(new Float32Array(8), 2).usesNative, true);
    assert.equal(new ExactRetriever(new Float32Array(8), 2, { native: false }).usesNative, false);
  });

  for (const c of [
    { dim: 64, items: 12103, users: 256, k: 50, K: 1 },
    { dim: 64, items: 9000, users: 300, k: 50, K: 1 }, // more users than one 256-row block, items over 2 blocks
    { dim: 7, items: 500, users: 33, k: 10, K: 1 },
    { dim: 16, items: 40, users: 5, k: 60, K: 1 }, // k > items: padding
    { dim: 32, items: 800, users: 6, k: 30, K: 3 },
  ]) {
    it(`dim=${c.dim} items=${c.items} users=${c.users} K=${c.K} k=${c.k}, with and without exclusions, ip and cosine`, () => {
      const rng = new Random(c.dim * 7 + c.items);
      const items = randomVectors(rng, c.items * c.dim);
      items.fill(0, 0, c.dim);
      const q = randomVectors(rng, c.users * c.K * c.dim);
      const exclude = Array.from({ length: c.users }, (_, u) => (u % 3 === 0 ? null : Array.from({ length: 1 + (u % 40) }, () => rng.int(c.items + 5))));
      for (const metric of ['ip', 'cosine'] as const) {
        const native = new ExactRetriever(items, c.dim, { metric });
        const js = new ExactRetriever(items, c.dim, { metric, native: false });
        for (const ex of [undefined, exclude]) {
          const opts = { k: c.k, interests: c.K, exclude: ex };
          const want = js.search(q, opts);
          const got = native.search(q, opts);
          if (metric === 'ip' && c.K === 1) {
            assertSameTiesAside(got, want, 1e-4, (u, id) => score(items, c.dim, q, u, id), `${metric} ex=${ex !== undefined}`);
          } else {
            // Scores of cosine / pooled interests: compare against the JavaScript list's own scores.
            const byId = (r: SearchResult, u: number) =>
              new Map(Array.from(r.ids.subarray(u * r.k, (u + 1) * r.k)).map((id, j) => [id, r.scores[u * r.k + j]]));
            assertSameTiesAside(got, want, 1e-4, (u, id) => byId(got, u).get(id) ?? NaN, `${metric} K=${c.K} ex=${ex !== undefined}`);
          }
          if (ex) {
            for (let u = 0; u < c.users; u++) {
              const banned = new Set(ex[u] ?? []);
              for (const id of got.ids.subarray(u * c.k, (u + 1) * c.k)) assert.ok(!banned.has(id), `excluded ${id} returned`);
            }
          }
        }
      }
    });
  }

  it('ties at the cut go to lower ids (duplicate vectors, a zero query)', () => {
    const dim = 4;
    const items = new Float32Array(60 * dim);
    for (let i = 1; i < 60; i++) for (let j = 0; j < dim; j++) items[i * dim + j] = (i % 3) + j * 0.5;
    const q = Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1]);
    const got = new ExactRetriever(items, dim).search(q, { k: 10 });
    assert.deepEqual(Array.from(got.ids.subarray(0, 10)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const want = new ExactRetriever(items, dim, { native: false }).search(q, { k: 10 });
    assertSameTiesAside(got, want, 1e-4, (u, id) => score(items, dim, q, u, id), 'dups');
  });
});

const TYPED = faissAvailable() && typeof new (loadFaissNode().IndexFlatIP)(2).searchTyped === 'function';
const skipTyped = TYPED || REQUIRED ? false : 'faiss-node without searchTyped (npm run setup:faiss builds it)';

/** A view of a retriever's index without the typed methods: faiss-node's original array API. */
function arrayOnly(r: FaissRetriever): FaissRetriever {
  const state = (r as unknown as { s: { index: FaissIndex } }).s;
  const idx = state.index;
  const plain: FaissIndex = {
    ntotal: () => idx.ntotal(),
    getDimension: () => idx.getDimension(),
    isTrained: () => idx.isTrained(),
    add: (x) => idx.add(x),
    train: (x) => idx.train(x),
    search: (x, k) => idx.search(x, k),
    toBuffer: () => idx.toBuffer(),
  };
  const copy = Object.create(FaissRetriever.prototype) as FaissRetriever;
  Object.assign(copy, r, { s: { ...state, index: plain } });
  return copy;
}

describe('FaissRetriever: typed search vs the array API', { skip: skipTyped }, () => {
  const dim = 64;
  const rng = new Random(11);
  const items = randomVectors(rng, 12103 * dim);
  items.fill(0, 0, dim);
  const q = randomVectors(rng, 300 * dim);
  const exclude = Array.from({ length: 300 }, (_, u) => (u % 2 ? null : Array.from({ length: 5 + (u % 17) }, () => rng.int(12103))));

  for (const factory of ['Flat', 'HNSW16']) {
    it(`${factory}: the same lists and scores, with and without exclusions; Flat equals ExactRetriever`, () => {
      const typed = new FaissRetriever(items, dim, { factory, efSearch: factory === 'Flat' ? undefined : 64 });
      const plain = arrayOnly(typed);
      for (const ex of [undefined, exclude]) {
        const a = typed.search(q, { k: 50, exclude: ex });
        const b = plain.search(q, { k: 50, exclude: ex });
        assert.deepEqual(a.ids, b.ids);
        assert.deepEqual(a.scores, b.scores);
        if (factory === 'Flat') {
          const e = new ExactRetriever(items, dim, { native: false }).search(q, { k: 50, exclude: ex });
          assert.deepEqual(a.ids, e.ids);
          assert.deepEqual(a.scores, e.scores);
        }
      }
      const multi = typed.search(q.subarray(0, 100 * dim), { k: 20, interests: 2 });
      assert.deepEqual(multi, plain.search(q.subarray(0, 100 * dim), { k: 20, interests: 2 }));
    });
  }
});
