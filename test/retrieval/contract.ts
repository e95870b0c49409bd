/**
 * The `Retriever` contract, checked the same way for every retriever (exact, faiss, pgvector):
 * `retrieverContract(name, build)` defines the tests. Synchronous and asynchronous retrievers
 * are both awaited, so one helper serves all. An exact retriever must return ExactRetriever's
 * lists; an approximate one reaches `recall` of them and never breaks the rules (padding row
 * 0, exclusions, distinct ids, -1 / -Infinity padding, argument errors).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SeqrecError } from '../../src/errors.js';
import { ExactRetriever, type AsyncRetriever, type Retriever, type SearchOptions, type SearchResult } from '../../src/retrieval/index.js';
import { Random } from '../../src/util/random.js';

export type AnyRetriever = Retriever | AsyncRetriever;

export function randomVectors(rng: Random, length: number): Float32Array {
  const a = new Float32Array(length);
  for (let i = 0; i < length; i++) a[i] = rng.normal();
  return a;
}

/** Same ids in the same order, scores within `tolerance`. */
export function assertSameResult(got: SearchResult, want: SearchResult, what: string, tolerance = 1e-5): void {
  assert.equal(got.k, want.k, `${what}: k`);
  assert.equal(got.numQueries, want.numQueries, `${what}: numQueries`);
  for (let i = 0; i < want.ids.length; i++) {
    if (got.ids[i] !== want.ids[i]) {
      const u = Math.floor(i / want.k);
      assert.fail(`${what}: user ${u}, rank ${i % want.k}: got id ${got.ids[i]} (score ${got.scores[i]}) vs exact id ${want.ids[i]} (score ${want.scores[i]})`);
    }
    const a = got.scores[i];
    const b = want.scores[i];
    if (!(a === b || Math.abs(a - b) <= tolerance)) assert.fail(`${what}: score at ${i}: ${a} vs ${b}`);
  }
}

/** Mean over users of |approx top-k ∩ exact top-k| / (real items in the exact top-k). */
export function recallAgainst(approx: SearchResult, exact: SearchResult): number {
  const k = exact.k;
  let hits = 0;
  let total = 0;
  for (let u = 0; u < exact.numQueries; u++) {
    const truth = new Set(Array.from(exact.ids.subarray(u * k, (u + 1) * k)).filter((id) => id > 0));
    total += truth.size;
    for (let j = 0; j < k; j++) if (truth.has(approx.ids[u * k + j])) hits++;
  }
  return total === 0 ? 1 : hits / total;
}

/** Ids in [1, numItems), distinct per user, -1 only after the real ones, scores descending. */
export function assertValidResult(r: SearchResult, numItems: number, what: string): void {
  for (let u = 0; u < r.numQueries; u++) {
    const ids = Array.from(r.ids.subarray(u * r.k, (u + 1) * r.k));
    const scores = Array.from(r.scores.subarray(u * r.k, (u + 1) * r.k));
    const real = ids.filter((id) => id !== -1);
    assert.equal(new Set(real).size, real.length, `${what}: duplicate ids for user ${u}`);
    for (const id of real) assert.ok(id >= 1 && id < numItems, `${what}: id ${id} out of [1, ${numItems})`);
    ids.forEach((id, j) => {
      if (j >= real.length) assert.ok(id === -1 && scores[j] === -Infinity, `${what}: user ${u} slot ${j}: -1 slots must come last with -Infinity`);
      if (j > 0 && j < real.length) assert.ok(scores[j] <= scores[j - 1], `${what}: user ${u}: scores not descending at ${j}`);
    });
  }
}

/** Rejects (async) or throws (sync) a SeqrecError with `code` and a message matching `pattern`. */
export async function rejectsSeqrec(fn: () => unknown, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(
    async () => fn(),
    (err: unknown) => err instanceof SeqrecError && err.code === code && pattern.test(err.message),
  );
}

export interface ContractOptions {
  /** True: lists equal ExactRetriever's. False: approximate, recall@k >= `recall`. */
  exact: boolean;
  /** Approximate retrievers: the recall@50 (and @10) they must reach. Default 0.95. */
  recall?: number;
  /** Score tolerance against the exact scores (float32 arithmetic elsewhere). Default 1e-5. */
  tolerance?: number;
  /** Real items of the main catalogue (default 3000). */
  items?: number;
  /** Skip the whole contract (with this reason), e.g. without faiss-node. */
  skip?: string | false;
}

type Build = (items: Float32Array, dim: number, metric: 'ip' | 'cosine') => AnyRetriever | Promise<AnyRetriever>;

/** Defines the contract tests for the retriever `build` makes. */
export function retrieverContract(name: string, build: Build, options: ContractOptions): void {
  const rng = new Random(4242);
  const dim = 16;
  const numItems = (options.items ?? 3000) + 1;
  const items = randomVectors(rng, numItems * dim);
  // A large padding row: it would win every inner-product search if it were searched.
  items.fill(50, 0, dim);
  const users = 40;
  const queries = randomVectors(rng, users * 4 * dim);
  const exclude = Array.from({ length: users }, (_, u) =>
    u % 5 === 0 ? null : Array.from({ length: (u * 7) % 40 }, (_, j) => 1 + ((u * 131 + j * 17) % (numItems - 1))),
  );
  const tolerance = options.tolerance ?? 1e-5;
  const recall = options.recall ?? 0.95;

  /** Checks `got` against the exact answer: equal, or valid with the recall. */
  const compare = (got: SearchResult, want: SearchResult, what: string) => {
    assertValidResult(got, numItems, what);
    if (options.exact) assertSameResult(got, want, what, tolerance);
    else {
      const r = recallAgainst(got, want);
      assert.ok(r >= recall, `${what}: recall ${r.toFixed(3)} < ${recall}`);
    }
  };

  for (const metric of ['ip', 'cosine'] as const) {
    describe(`${name} (${metric}): the Retriever contract against ExactRetriever`, { skip: options.skip ?? false }, () => {
      let r: AnyRetriever;
      const exact = new ExactRetriever(items, dim, { metric, native: false });
      const search = async (q: Float32Array, o: SearchOptions) => ({ got: await r.search(q, o), want: exact.search(q, o) });
      before(async () => {
        r = await build(items, dim, metric);
      });
      after(async () => {
        await r.dispose();
        exact.dispose();
      });

      it('describes its items: dim, numItems (with padding), metric', () => {
        assert.deepEqual([r.dim, r.numItems, r.metric], [dim, numItems, metric]);
      });

      it('k = 1, 10, 50 on random queries; never the padding row', async () => {
        for (const k of [1, 10, 50]) {
          const q = queries.subarray(0, users * dim);
          const { got, want } = await search(q, { k });
          compare(got, want, `${metric} k=${k}`);
          assert.ok(!got.ids.includes(0), 'padding returned');
        }
      });

      it('exclusions: an excluded item is never returned, and the lists are still the top k of the rest', async () => {
        const q = queries.subarray(0, users * dim);
        const { got, want } = await search(q, { k: 30, exclude });
        compare(got, want, `${metric} exclude`);
        for (let u = 0; u < users; u++) {
          const ex = new Set(exclude[u] ?? []);
          for (const id of got.ids.subarray(u * 30, (u + 1) * 30)) assert.ok(!ex.has(id), `excluded ${id} returned to user ${u}`);
        }
      });

      it('multi-interest queries (K = 2 and 4) merge interests, with and without exclusions', async () => {
        for (const interests of [2, 4]) {
          const q = queries.subarray(0, users * interests * dim);
          const plain = await search(q, { k: 20, interests });
          compare(plain.got, plain.want, `${metric} K=${interests}`);
          assert.equal(plain.got.numQueries, users);
          const ex = await search(q, { k: 20, interests, exclude });
          compare(ex.got, ex.want, `${metric} K=${interests} exclude`);
        }
      });

      it('argument errors are the same as ExactRetriever', async () => {
        await rejectsSeqrec(() => r.search(new Float32Array(dim + 1), { k: 5 }), 'shape_mismatch', /multiple of interests \* dim = 1 \* 16/);
        await rejectsSeqrec(() => r.search(new Float32Array(3 * dim), { k: 5, interests: 2 }), 'shape_mismatch', /interests \* dim = 2 \* 16/);
        await rejectsSeqrec(() => r.search(new Float32Array(dim), { k: 0 }), 'invalid_argument', /k must be an integer >= 1, got 0/);
        await rejectsSeqrec(() => r.search(new Float32Array(2 * dim), { k: 5, exclude: [[1]] }), 'shape_mismatch', /one entry per query row \(2\)/);
        await rejectsSeqrec(() => r.search(new Float32Array(dim).fill(NaN), { k: 5 }), 'invalid_argument', /finite/);
      });
    });
  }

  describe(`${name}: small catalogues`, { skip: options.skip ?? false }, () => {
    it('k larger than the catalogue pads with -1 / -Infinity exactly like ExactRetriever', async () => {
      const small = randomVectors(new Random(5), 8 * 4);
      const q = randomVectors(new Random(6), 3 * 4);
      const ex = [[1, 2], null, [7]];
      const r = await build(small, 4, 'ip');
      try {
        const got = await r.search(q, { k: 10, exclude: ex });
        assertSameResult(got, new ExactRetriever(small, 4, { native: false }).search(q, { k: 10, exclude: ex }), 'k > items', tolerance);
        assert.deepEqual(Array.from(got.ids.subarray(5, 10)), [-1, -1, -1, -1, -1]);
        assert.deepEqual(Array.from(got.scores.subarray(5, 10)), [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity]);
      } finally {
        await r.dispose();
      }
    });

    it('refuses to search after dispose', async () => {
      const r = await build(randomVectors(new Random(7), 4 * 4), 4, 'ip');
      await r.dispose();
      await rejectsSeqrec(() => r.search(new Float32Array(4), { k: 1 }), 'invalid_argument', /disposed/);
    });
  });
}
