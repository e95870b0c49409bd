import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SequenceDataset } from '../../src/data/dataset.js';
import { SeqrecError } from '../../src/errors.js';
import { ComiRecSA } from '../../src/models/comirec-sa.js';
import type { GRU4Rec } from '../../src/models/gru4rec.js';
import { ExactRetriever } from '../../src/retrieval/exact.js';
import { exportBundle } from '../../src/bundle/bundle.js';
import { Recommender } from '../../src/serve/recommender.js';
import { popularityRanking, userMatrix } from '../../src/train/evaluate.js';
import { batchOf } from '../helpers.js';
import { tempDir, trainTinyModel } from './helpers.js';

let root: string;
let dir: string;
let model: GRU4Rec;
let dataset: SequenceDataset;
let rec: Recommender;
let ids: readonly string[];

before(async () => {
  root = await tempDir();
  ({ model, dataset } = await trainTinyModel({ seed: 3 }));
  dir = join(root, 'bundle');
  await exportBundle(model, dir, { vocabulary: dataset.vocabulary, popularity: dataset.itemPopularity() });
  rec = await Recommender.load(dir, { maxK: 200, maxHistory: 30, maxBatch: 16 });
  ids = dataset.vocabulary.items();
});
after(async () => {
  rec.dispose();
  model.dispose();
  await rm(root, { recursive: true, force: true });
});

function isInvalid(field: string, message: RegExp) {
  return (err: unknown) => err instanceof SeqrecError && err.code === 'invalid_argument' && err.field === field && message.test(err.message);
}

describe('Recommender', () => {
  it('round-trips the bundle: scores identical to the in-memory model', () => {
    const history = [ids[4], ids[9], ids[2], ids[30]];
    const indices = history.map((id) => dataset.vocabulary.encode(id)!);
    const retriever = new ExactRetriever(Float32Array.from(model.itemEmbeddings().dataSync() as Float32Array), model.embeddingDim);
    const want = retriever.search(userMatrix(model, batchOf([indices], model.maxLen)), { k: 20, exclude: [indices] });
    retriever.dispose();
    const got = rec.recommend(history, { k: 20 });
    assert.equal(got.fallback, null);
    assert.deepEqual(
      got.items.map((x) => x.id),
      [...want.ids].map((i) => dataset.vocabulary.decode(i)),
    );
    assert.deepEqual(
      got.items.map((x) => x.score),
      [...want.scores],
    );
    // userEmbedding is the model's user vector as plain data.
    const emb = rec.userEmbedding(history);
    assert.ok(emb instanceof Float32Array);
    assert.equal(emb.length, model.numInterests * model.embeddingDim);
    assert.deepEqual([...emb], [...userMatrix(model, batchOf([indices], model.maxLen))]);
  });

  it('fromModel serves a model in memory exactly as its bundle, and leaves the model to the caller', async () => {
    const mem = Recommender.fromModel(model, { dataset, maxK: 200, maxHistory: 30, maxBatch: 16 });
    const histories = [[ids[4], ids[9], ids[2]], [], ['nope', ids[7]], [ids[30]]];
    assert.deepEqual(
      histories.map((h) => mem.recommend(h, { k: 25 })),
      histories.map((h) => rec.recommend(h, { k: 25 })),
    );
    assert.deepEqual(mem.recommendMany(histories, { k: 7, excludeSeen: false }), rec.recommendMany(histories, { k: 7, excludeSeen: false }));
    assert.deepEqual(mem.similarItems(ids[3], 9), rec.similarItems(ids[3], 9));
    assert.equal(mem.info().dir, '');
    // Without a directory of its own, a reload needs one; with one, it switches to the bundle.
    await assert.rejects(mem.reload(), isInvalid('dir', /fromModel: give reload a bundle directory/));
    assert.equal((await mem.reload(dir)).dir, dir);
    mem.dispose();
    // The model was not disposed with the Recommender.
    assert.equal(model.itemEmbeddings().isDisposed, false);
    // Without counts the fallback is by index; a vocabulary of another size is refused.
    const bare = Recommender.fromModel(model, { vocabulary: dataset.vocabulary, warmUp: false });
    assert.deepEqual(
      bare.recommend([], { k: 3 }).items.map((x) => x.id),
      [1, 2, 3].map((i) => dataset.vocabulary.decode(i)),
    );
    bare.dispose();
    assert.throws(() => Recommender.fromModel(model, {}), isInvalid('vocabulary', /dataset/));
    assert.throws(
      () => Recommender.fromModel(model, { vocabulary: dataset.vocabulary, popularity: [1, 2] }),
      (e: unknown) => e instanceof SeqrecError && e.code === 'shape_mismatch' && e.field === 'popularity',
    );
  });

  it('recommend is recommendMany of one history', () => {
    for (const h of [[ids[1], ids[5]], [], ['x'], [ids[9], 'y', ids[9]]]) {
      for (const options of [{ k: 5 }, { k: 40, excludeSeen: false }]) assert.deepEqual(rec.recommend(h, options), rec.recommendMany([h], options)[0]);
    }
  });

  it('reports unknown ids (once each, in order) and skips them', () => {
    const clean = rec.recommend([ids[1], ids[2]], { k: 15 });
    const noisy = rec.recommend(['nope', ids[1], 'zz', 'nope', ids[2], 17], { k: 15 });
    assert.deepEqual(noisy.unknown, ['nope', 'zz', '17']);
    assert.equal(noisy.fallback, null);
    assert.deepEqual(noisy.items, clean.items);
  });

  it('accepts numeric ids as raw ids (String(n))', () => {
    const r = rec.recommend([42], { k: 3 });
    assert.deepEqual(r.unknown, ['42']);
    assert.equal(r.fallback, 'popularity');
  });

  it('falls back to popularity for an empty or all-unknown history, and says so', () => {
    const order = popularityRanking(dataset.itemPopularity(), 12);
    const counts = dataset.itemPopularity();
    const empty = rec.recommend([], { k: 12 });
    assert.equal(empty.fallback, 'popularity');
    assert.match(empty.reason!, /empty history/);
    assert.deepEqual(
      empty.items.map((x) => x.id),
      [...order].map((i) => dataset.vocabulary.decode(i)),
    );
    assert.deepEqual(
      empty.items.map((x) => x.score),
      [...order].map((i) => counts[i]),
    );
    const unknown = rec.recommend(['a', 'b', 'a'], { k: 12 });
    assert.equal(unknown.fallback, 'popularity');
    assert.deepEqual(unknown.unknown, ['a', 'b']);
    assert.match(unknown.reason!, /none of the history's item ids are in the vocabulary \(2 unknown\)/);
    assert.deepEqual(unknown.items, empty.items);
  });

  it('excludeSeen (default true) leaves out every history item, not just the window', () => {
    const history = ids.slice(0, 25); // longer than maxLen 10
    const k = ids.length;
    const excluded = rec.recommend(history, { k });
    assert.equal(excluded.items.length, ids.length - 25);
    for (const x of excluded.items) assert.ok(!history.includes(x.id), `${x.id} is in the history`);
    const kept = rec.recommend(history, { k, excludeSeen: false });
    assert.equal(kept.items.length, ids.length);
    // Scores are sorted, descending.
    for (let i = 1; i < kept.items.length; i++) assert.ok(kept.items[i - 1].score >= kept.items[i].score);
    // Excluding removes items without reordering the rest.
    assert.deepEqual(
      excluded.items,
      kept.items.filter((x) => !history.includes(x.id)),
    );
  });

  it('recommendMany equals recommend row by row', () => {
    const histories = [[ids[3]], [], ids.slice(5, 20), ['zz', ids[7]], ['zz'], [ids[0], ids[0], ids[1]]];
    for (const options of [{ k: 7 }, { k: 30, excludeSeen: false }]) {
      const many = rec.recommendMany(histories, options);
      assert.equal(many.length, histories.length);
      histories.forEach((h, i) => assert.deepEqual(many[i], rec.recommend(h, options), `row ${i}`));
    }
    assert.deepEqual(rec.recommendMany([], { k: 5 }), []);
  });

  it('similarItems ranks by cosine and excludes the item itself', () => {
    const item = ids[11];
    const sims = rec.similarItems(item, 10);
    assert.equal(sims.length, 10);
    assert.ok(!sims.some((x) => x.id === item));
    const D = model.embeddingDim;
    const table = model.itemEmbeddings().dataSync() as Float32Array;
    const vec = (id: string) => table.subarray(dataset.vocabulary.encode(id)! * D, (dataset.vocabulary.encode(id)! + 1) * D);
    const cos = (a: Float32Array, b: Float32Array) => {
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let j = 0; j < D; j++) {
        ab += a[j] * b[j];
        aa += a[j] * a[j];
        bb += b[j] * b[j];
      }
      return ab / Math.sqrt(aa * bb);
    };
    const brute = ids.filter((id) => id !== item).map((id) => ({ id, s: cos(vec(item), vec(id)) }));
    brute.sort((a, b) => b.s - a.s);
    assert.deepEqual(
      sims.map((x) => x.id),
      brute.slice(0, 10).map((x) => x.id),
    );
    for (const [i, x] of sims.entries()) assert.ok(Math.abs(x.score - brute[i].s) < 1e-5);
    // k larger than the catalogue: every other item, once.
    assert.equal(rec.similarItems(item, 200).length, ids.length - 1);
    assert.throws(
      () => rec.similarItems('nope', 5),
      (e: unknown) => e instanceof SeqrecError && e.code === 'unknown_item' && /'nope'/.test(e.message),
    );
  });

  it('validates inputs with errors that name the problem', () => {
    assert.throws(() => rec.recommend([ids[0]], { k: 0 }), isInvalid('k', /k must be an integer in 1\.\.200, got 0/));
    assert.throws(() => rec.recommend([ids[0]], { k: 201 }), isInvalid('k', /1\.\.200, got 201/));
    assert.throws(() => rec.recommend([ids[0]], { k: 2.5 }), isInvalid('k', /got 2\.5/));
    assert.throws(() => rec.recommend([ids[0]], { k: '5' as unknown as number }), isInvalid('k', /got string/));
    assert.throws(() => rec.recommend('i1' as unknown as string[]), isInvalid('history', /history must be an array of item ids, got string/));
    assert.throws(() => rec.recommend([ids[0], null as unknown as string]), isInvalid('history', /history\[1\] must be an item id .* got null/));
    assert.throws(() => rec.recommend([1.5]), isInvalid('history', /history\[0\] .* got 1\.5/));
    assert.throws(() => rec.recommend(new Array(31).fill(ids[0])), isInvalid('history', /history has 31 items; at most 30/));
    assert.throws(() => rec.recommend([ids[0]], { excludeSeen: 'yes' as unknown as boolean }), isInvalid('excludeSeen', /boolean/));
    assert.throws(() => rec.recommend([ids[0]], { interests: 1 }), isInvalid('interests', /0\.\.0 \(gru4rec has 1\), got 1/));
    assert.throws(() => rec.recommend([ids[0]], null as unknown as object), isInvalid('options', /options must be an object/));
    assert.throws(() => rec.recommendMany(new Array(17).fill([ids[0]])), isInvalid('histories', /17 entries; at most 16/));
    assert.throws(() => rec.recommendMany([[ids[0]], [{}] as unknown as string[]]), isInvalid('histories[1]', /histories\[1\]\[0\] must be an item id/));
    assert.throws(() => rec.similarItems(ids[0], 0), isInvalid('k', /1\.\.200/));
    assert.throws(() => rec.similarItems({} as unknown as string, 3), isInvalid('item', /item must be an item id/));
    assert.throws(
      () => rec.userEmbedding(['nope']),
      (e: unknown) => e instanceof SeqrecError && e.code === 'unknown_item',
    );
    // Still fine afterwards.
    assert.equal(rec.recommend([ids[0]], { k: 3 }).items.length, 3);
  });

  it('rejects bad load options', async () => {
    await assert.rejects(Recommender.load(dir, { maxK: 0 }), isInvalid('maxK', /maxK must be an integer >= 1/));
    await assert.rejects(Recommender.load(dir, { retriever: 'annoy' as 'exact' }), isInvalid('retriever', /'auto', 'exact', 'faiss' or 'pgvector'/));
    // The pgvector option: required with retriever 'pgvector', refused without it, checked by its schema (before connecting).
    await assert.rejects(Recommender.load(dir, { retriever: 'pgvector' }), /retriever 'pgvector' needs the pgvector option/);
    await assert.rejects(Recommender.load(dir, { pgvector: { connectionString: 'postgres://h/db' } }), /only used with retriever 'pgvector'/);
    await assert.rejects(
      Recommender.load(dir, { retriever: 'pgvector', pgvector: { connectionString: 'postgres://h/db', poolsize: 2 } as never }),
      /unknown option 'poolsize' \(did you mean 'poolSize'\?\)/,
    );
    await assert.rejects(Recommender.load(dir, { retriever: 'faiss' }), /has no faiss index/);
    await assert.rejects(Recommender.load(join(root, 'missing')), /missing: no such bundle directory/);
  });

  it('reloads atomically; a failed reload keeps serving the old bundle', async () => {
    const other = await Recommender.load(dir, { warmUp: false });
    const before = other.recommend([ids[1]], { k: 5 });
    assert.equal(other.info().generation, 1);
    await assert.rejects(other.reload(join(root, 'missing')), /no such bundle directory/);
    assert.equal(other.info().generation, 1);
    assert.deepEqual(other.recommend([ids[1]], { k: 5 }), before);
    // Two overlapping reloads run one after the other.
    const [a, b] = await Promise.all([other.reload(), other.reload(dir)]);
    assert.equal(a.generation, 2);
    assert.equal(b.generation, 3);
    assert.deepEqual(other.recommend([ids[1]], { k: 5 }), before);
    other.dispose();
    assert.throws(() => other.recommend([ids[1]]), /disposed/);
    await assert.rejects(other.reload(), /disposed/);
  });

  it('serves multi-interest models: merged or one interest', async () => {
    const mi = new ComiRecSA({ itemCount: dataset.itemCount, embeddingDim: 8, maxLen: 10, numInterests: 3, seed: 5 });
    const miDir = join(root, 'mi');
    await exportBundle(mi, miDir, { vocabulary: dataset.vocabulary, popularity: dataset.itemPopularity() });
    const r = await Recommender.load(miDir);
    const history = ids.slice(0, 6);
    assert.equal(r.userEmbedding(history).length, 3 * 8);
    const merged = r.recommend(history, { k: 10 });
    const per = [0, 1, 2].map((i) => r.recommend(history, { k: 10, interests: i }));
    // The merged list is the best 10 of the pooled per-interest lists, by best score.
    const best = new Map<string, number>();
    for (const p of per) for (const x of p.items) best.set(x.id, Math.max(best.get(x.id) ?? -Infinity, x.score));
    const pooled = [...best.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
    assert.deepEqual(
      merged.items.map((x) => x.score),
      pooled.map((x) => x[1]),
    );
    assert.throws(() => r.recommend(history, { interests: 3 }), isInvalid('interests', /0\.\.2 \(comirec-sa has 3\), got 3/));
    const many = r.recommendMany([history, [], history.slice(2)], { k: 10, interests: 1 });
    assert.deepEqual(many[0], per[1]);
    assert.deepEqual(many[2], r.recommend(history.slice(2), { k: 10, interests: 1 }));
    r.dispose();
    mi.dispose();
  });
});
