/**
 * The cold-start fallbacks on a log small enough to check by hand: every path (empty history,
 * all-unknown, only cold items with and without co-occurring items, a short history, a mixed
 * history), recent popularity against all-time popularity, the bundle round trip of the
 * tables, the errors for data a bundle lacks, and the HTTP answer and metric label.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { exportBundle } from '../../src/bundle/bundle.js';
import { coldStartTables, recentPopularity } from '../../src/bundle/cold-start.js';
import { SequenceDataset } from '../../src/data/dataset.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { SeqrecError } from '../../src/errors.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { parsePrometheus } from '../../src/serve/metrics.js';
import { Recommender } from '../../src/serve/recommender.js';
import { createServer } from '../../src/serve/server.js';
import { rewriteManifest } from '../bundle/bundle-files.js';
import { setupBackend } from '../helpers.js';
import { get, post, tempDir } from './helpers.js';

// Items a..g = 1..7. Leave-one-out trains on all but the last two items of each user:
// A trains on [a a a a b], B on [a a a c], C on [a a c]; d, e, f are only held out, g is in
// no sequence. Training counts: a 9, b 1, c 2, the rest 0, so d, e, f and g are cold.
const vocab = ItemVocabulary.fromItems(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
const dataset = SequenceDataset.fromEncoded([Int32Array.of(1, 1, 1, 1, 2, 4, 5), Int32Array.of(1, 1, 1, 3, 4, 6), Int32Array.of(1, 1, 3, 5, 6)], vocab, {
  protocol: 'loo',
  maxLen: 5,
});
const tables = coldStartTables(dataset);
// ItemKNN over the whole log (λ 20, α 0.5): supports a 9, b 1, c 2, d 2, e 2, f 2.
const sim = (cooc: number, si: number, sj: number) => cooc / Math.sqrt((si + 20) * (sj + 20));

let model: GRU4Rec;
let rec: Recommender;
let root: string;

before(async () => {
  await setupBackend();
  model = new GRU4Rec({ itemCount: dataset.itemCount, embeddingDim: 4, maxLen: 5, seed: 1 });
  rec = Recommender.fromModel(model, {
    dataset,
    recentPopularity: tables.recentPopularity.counts,
    cooccurrence: tables.cooccurrence,
    fallback: { shortHistory: 1 },
  });
  root = await tempDir();
});
after(async () => {
  rec.dispose();
  model.dispose();
  await rm(root, { recursive: true, force: true });
});

const idsOf = (r: { items: { id: string }[] }) => r.items.map((x) => x.id);
const configError = (field: string, message: RegExp) => (err: unknown) =>
  err instanceof SeqrecError && err.code === 'invalid_config' && err.field === field && message.test(err.message);

describe('cold start', () => {
  it('computes the tables: recent counts differ from all-time counts, cold flags, neighbours in order', () => {
    assert.deepEqual(Array.from(dataset.itemPopularity()), [0, 9, 1, 2, 0, 0, 0, 0]);
    // The last 20% of each training sequence (at least one event): b of A, c of B, c of C.
    assert.deepEqual(Array.from(recentPopularity(dataset)), [0, 0, 1, 2, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(recentPopularity(dataset, 1)), [0, 9, 1, 2, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(tables.cooccurrence.cold), [0, 0, 0, 0, 1, 1, 1, 1]);
    // d co-occurs with a 4 + 3 times, with b, c, e, f once each.
    const co = tables.cooccurrence;
    assert.deepEqual(Array.from(co.ids.subarray(co.offsets[4], co.offsets[5])), [1, 2, 3, 5, 6]);
    assert.ok(Math.abs(co.sims[co.offsets[4]] - sim(7, 2, 9)) < 1e-6);
    assert.equal(co.offsets[7], co.offsets[8], 'g has no neighbours');
    // A warm start's parent rows are trained even without events here.
    assert.deepEqual(Array.from(coldStartTables(dataset, { parentItems: 5 }).cooccurrence.cold), [0, 0, 0, 0, 0, 0, 1, 1]);
    assert.throws(() => recentPopularity(dataset, 0), /recentFraction must be a number in \(0, 1\]/);
  });

  it('empty and all-unknown histories get the popular items, all-time or recent', async () => {
    const empty = rec.recommend([], { k: 3 });
    assert.equal(empty.fallback, 'popularity');
    assert.equal(empty.reason, 'empty history');
    assert.deepEqual(empty.items, [
      { id: 'a', score: 9 },
      { id: 'c', score: 2 },
      { id: 'b', score: 1 },
    ]);
    const unknown = rec.recommend(['zz', 'zz', 'yy'], { k: 2 });
    assert.equal(unknown.fallback, 'popularity');
    assert.deepEqual(unknown.unknown, ['zz', 'yy']);
    assert.match(unknown.reason!, /none of the history's item ids are in the vocabulary \(2 unknown\)/);
    const recent = Recommender.fromModel(model, { dataset, recentPopularity: tables.recentPopularity.counts, fallback: { popular: 'recent-popularity' } });
    const r = recent.recommend([], { k: 3 });
    assert.equal(r.fallback, 'recent-popularity');
    // c 2, b 1, then the zeros by index: a first.
    assert.deepEqual(r.items, [
      { id: 'c', score: 2 },
      { id: 'b', score: 1 },
      { id: 'a', score: 0 },
    ]);
    assert.equal(recent.info().fallback.popular, 'recent-popularity');
    recent.dispose();
  });

  it('a history of cold items is answered from its co-occurring items, in the known order', () => {
    const r = rec.recommend(['d'], { k: 6 });
    assert.equal(r.fallback, 'cooccurrence');
    assert.match(r.reason!, /every known history item \(1\) is cold/);
    // a, b, then c, e, f tied (ties to the lower index); the rest is the popular fill at 0.
    assert.deepEqual(idsOf(r), ['a', 'b', 'c', 'e', 'f', 'g']);
    const want = [sim(7, 2, 9), sim(1, 2, 1), sim(1, 2, 2), sim(1, 2, 2), sim(1, 2, 2), 0];
    r.items.forEach((x, i) => assert.ok(Math.abs(x.score - want[i]) < 1e-6, `${x.id}: ${x.score} != ${want[i]}`));
    // Two cold items: their similarities add up (a 7 + 6, b 1 + 1, c and f 1 + 1); seen items stay out.
    const two = rec.recommend(['d', 'e', 'zz'], { k: 4 });
    assert.equal(two.fallback, 'cooccurrence');
    assert.deepEqual(two.unknown, ['zz']);
    assert.deepEqual(idsOf(two), ['a', 'b', 'c', 'f']);
    assert.ok(Math.abs(two.items[0].score - 2 * sim(6.5, 2, 9)) < 1e-6);
    // excludeSeen false: the history's own items may come back.
    assert.ok(idsOf(rec.recommend(['d', 'e'], { k: 6, excludeSeen: false })).includes('e'));
  });

  it('a cold item without co-occurring items falls to the popular items, its own item left out', () => {
    const r = rec.recommend(['g'], { k: 4 });
    assert.equal(r.fallback, 'popularity');
    assert.match(r.reason!, /cold and none has co-occurring items/);
    assert.deepEqual(idsOf(r), ['a', 'c', 'b', 'd']);
  });

  it('short histories use the table (shortHistory), longer and mixed ones the model', () => {
    const short = rec.recommend(['b'], { k: 3 });
    assert.equal(short.fallback, 'cooccurrence');
    assert.match(short.reason!, /short history \(1 known item, at most 1\)/);
    // b co-occurs with a 4 times, with d and e once (only in A).
    assert.deepEqual(idsOf(short), ['a', 'd', 'e']);
    for (const history of [
      ['a', 'b'],
      ['a', 'd'],
      ['d', 'a', 'zz'],
    ]) {
      const r = rec.recommend(history, { k: 3 });
      assert.equal(r.fallback, null, history.join(','));
      assert.equal(r.reason, undefined);
    }
    // recommendMany routes each history as recommend does.
    const histories = [[], ['d'], ['a', 'b'], ['b'], ['g']];
    assert.deepEqual(
      rec.recommendMany(histories, { k: 3 }),
      histories.map((h) => rec.recommend(h, { k: 3 })),
    );
    const off = Recommender.fromModel(model, { dataset, cooccurrence: tables.cooccurrence, fallback: { cooccurrence: 'off' } });
    assert.equal(off.recommend(['d'], { k: 3 }).fallback, null);
    assert.equal(off.info().fallback.cooccurrence, false);
    off.dispose();
  });

  it('leaves no tensor behind', () => {
    rec.recommendMany([[], ['d'], ['a', 'b'], ['b'], ['g']], { k: 3 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 50; i++) rec.recommendMany([[], ['d'], ['a', 'b'], ['b'], ['g']], { k: 3 });
    assert.equal(tf.memory().numTensors, before);
  });

  it('round-trips the tables through a bundle; a bundle without them refuses what needs them', async () => {
    const dir = join(root, 'cold');
    await exportBundle(model, dir, { vocabulary: vocab, popularity: dataset.itemPopularity(), ...tables });
    const loaded = await Recommender.load(dir, { fallback: { shortHistory: 1 } });
    for (const h of [[], ['d'], ['d', 'e'], ['g'], ['b'], ['a', 'b']]) assert.deepEqual(loaded.recommend(h, { k: 5 }), rec.recommend(h, { k: 5 }), h.join(','));
    const recent = await Recommender.load(dir, { fallback: { popular: 'recent-popularity' } });
    assert.deepEqual(idsOf(recent.recommend([], { k: 2 })), ['c', 'b']);
    loaded.dispose();
    recent.dispose();
    // A layout that does not describe the file is refused, naming it (model.json re-digested, as an editor would).
    const edited = join(root, 'edited');
    await exportBundle(model, edited, { vocabulary: vocab, popularity: dataset.itemPopularity(), ...tables });
    await rewriteManifest(edited, (m) => (m.bundle.cooccurrence.layout[1].offset += 4));
    await assert.rejects(
      Recommender.load(edited),
      (e: unknown) => e instanceof SeqrecError && e.code === 'bundle_invalid' && e.file === 'cooccurrence.bin' && /starts at byte/.test(e.message),
    );
    await rewriteManifest(edited, (m) => ((m.bundle.cooccurrence.layout[1].offset -= 4), (m.bundle.cooccurrence.layout[0].length -= 1)));
    await assert.rejects(Recommender.load(edited), (e: unknown) => e instanceof SeqrecError && e.code === 'bundle_invalid' && e.file === 'cooccurrence.bin');

    const plain = join(root, 'plain');
    await exportBundle(model, plain, { vocabulary: vocab, popularity: dataset.itemPopularity() });
    const old = await Recommender.load(plain);
    assert.equal(old.recommend(['d'], { k: 3 }).fallback, null, 'no table: the model answers, as before');
    old.dispose();
    await assert.rejects(
      Recommender.load(plain, { fallback: { popular: 'recent-popularity' } }),
      configError('fallback.popular', /no recent-popularity\.json/),
    );
    await assert.rejects(Recommender.load(plain, { fallback: { cooccurrence: 'on' } }), configError('fallback.cooccurrence', /no cooccurrence\.bin/));
    await assert.rejects(Recommender.load(plain, { fallback: { shortHistory: 2 } }), configError('fallback.shortHistory', /co-occurrence table/));
    assert.throws(() => Recommender.fromModel(model, { dataset, fallback: { popular: 'recent' as never } }), configError('fallback.popular', /fallback/));
    assert.throws(() => Recommender.fromModel(model, { dataset, fallback: { shortHistroy: 1 } as never }), /did you mean 'shortHistory'/);
    // Bad option values fail before the bundle is read.
    await assert.rejects(Recommender.load(join(root, 'no-such-bundle'), { fallback: { shortHistory: -1 } }), configError('fallback.shortHistory', /fallback/));
  });

  it('says which fallback answered over HTTP and counts each kind in /metrics', async () => {
    const app = await createServer(rec, {});
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const r = await post(base, '/recommend', { history: ['d'], k: 2 });
      assert.equal(r.status, 200);
      assert.equal(r.body.fallback, 'cooccurrence');
      assert.match(r.body.reason, /cold/);
      await post(base, '/recommend', { history: [] });
      const batch = await post(base, '/recommend/batch', { histories: [['d'], ['a', 'b']], k: 2 });
      assert.deepEqual(
        batch.body.results.map((x: { fallback: unknown }) => x.fallback),
        ['cooccurrence', null],
      );
      const m = parsePrometheus((await get(base, '/metrics')).text);
      assert.equal(m.get('seqrec_recommend_fallback_total{kind="cooccurrence"}'), 2);
      assert.equal(m.get('seqrec_recommend_fallback_total{kind="popularity"}'), 1);
      assert.equal(m.get('seqrec_recommend_fallback_total{kind="recent-popularity"}'), 0);
    } finally {
      await app.close();
    }
  });
});
