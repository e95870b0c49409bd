/**
 * ItemKNN and SessionKNN as served models: the bundle round trip (the loaded model ranks
 * exactly as the fitted one), `Recommender` answering through `rank`, ItemKNN's similar items
 * from its neighbour lists, clear errors for what needs embeddings, integrity checks of the
 * bundle, and `seqrec train --model itemknn|sknn --out`.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { loadModel } from '../../src/bundle/checkpoint.js';
import { bundleKind, exportRankerBundle, loadRankerBundle } from '../../src/bundle/ranker-bundle.js';
import { runTrain } from '../../src/cli/commands/train.js';
import type { SequenceDataset } from '../../src/data/dataset.js';
import { SeqrecError } from '../../src/errors.js';
import { ItemKNN } from '../../src/models/knn/item-knn.js';
import { SessionKNN } from '../../src/models/knn/session-knn.js';
import { Recommender } from '../../src/serve/recommender.js';
import { fileIn } from '../bundle/bundle-files.js';
import { setupBackend } from '../helpers.js';
import { tempDir, tinyDataset } from './helpers.js';

let root: string;
let dataset: SequenceDataset;
let ids: readonly string[];
const fitted: { itemknn?: ItemKNN; sknn?: SessionKNN } = {};
const dirs: Record<string, string> = {};

before(async () => {
  await setupBackend();
  root = await tempDir('seqrec-knn-');
  dataset = tinyDataset(5);
  ids = dataset.vocabulary.items();
  fitted.itemknn = ItemKNN.fit(dataset, { neighbours: 30 });
  fitted.sknn = SessionKNN.fit(dataset, { neighbours: 20, sampleSize: 200 });
  for (const [name, model] of Object.entries(fitted)) {
    dirs[name] = join(root, name);
    await exportRankerBundle(model, dirs[name], { vocabulary: dataset.vocabulary, popularity: dataset.itemPopularity() });
  }
});
after(() => rm(root, { recursive: true, force: true }));

/** Histories of encoded items: short, long, with repeats. */
function histories(): number[][] {
  const out: number[][] = [];
  for (let u = 0; u < 40; u++) out.push(Array.from(dataset.sequence(u).subarray(0, 1 + (u % 9))));
  return out;
}

describe('neighbourhood models in bundles and the Recommender', () => {
  it('the loaded model ranks exactly as the fitted one', async () => {
    for (const name of ['itemknn', 'sknn'] as const) {
      assert.equal(await bundleKind(dirs[name]), 'ranker');
      const loaded = await loadRankerBundle(dirs[name]);
      assert.equal(loaded.model.name, name);
      assert.deepEqual(loaded.model.config, fitted[name]!.config);
      const h = histories();
      const want = fitted[name]!.rank(h, 25, h);
      const got = loaded.model.rank(h, 25, h);
      assert.deepEqual(Array.from(got.ids), Array.from(want.ids), name);
      assert.deepEqual(Array.from(got.scores), Array.from(want.scores), name);
      assert.deepEqual(loaded.vocabulary.items(), ids);
    }
  });

  it('Recommender.load answers through rank, by raw id; empty histories get the popular items', async () => {
    for (const name of ['itemknn', 'sknn'] as const) {
      const rec = await Recommender.load(dirs[name]);
      const info = rec.info();
      assert.equal(info.model, name);
      assert.equal(info.retriever, 'none');
      assert.equal(info.embeddingDim, 0);
      assert.equal(info.fallback.cooccurrence, false);
      const h = histories().slice(0, 8);
      const want = fitted[name]!.rank(h, 10, h);
      const raw = h.map((x) => [...x.map((i) => dataset.vocabulary.decode(i)), 'not-an-item']);
      const got = rec.recommendMany(raw, { k: 10 });
      got.forEach((r, i) => {
        assert.equal(r.fallback, null);
        assert.deepEqual(r.unknown, ['not-an-item']);
        assert.deepEqual(
          r.items.map((x) => x.id),
          Array.from(want.ids.subarray(i * 10, (i + 1) * 10), (j) => dataset.vocabulary.decode(j)),
        );
        assert.deepEqual(rec.recommend(raw[i], { k: 10 }), r);
      });
      const empty = rec.recommend([], { k: 3 });
      assert.equal(empty.fallback, 'popularity');
      // excludeSeen false lets history items back (SessionKNN "reminds").
      assert.equal(rec.recommend(raw[3], { k: 10, excludeSeen: false }).fallback, null);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i++) rec.recommendMany(raw, { k: 5 });
      assert.equal(tf.memory().numTensors, before);
      assert.throws(
        () => rec.userEmbedding(raw[0]),
        (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_argument' && /neighbourhood model, with no embeddings/.test(e.message),
      );
      rec.dispose();
    }
  });

  it("similarItems: ItemKNN's neighbour list; SessionKNN has none", async () => {
    const rec = await Recommender.load(dirs.itemknn);
    const { ids: nb, sims } = fitted.itemknn!.neighboursOf(5);
    const got = rec.similarItems(ids[4], 7);
    assert.deepEqual(
      got,
      Array.from(nb.subarray(0, 7), (j, r) => ({ id: dataset.vocabulary.decode(j), score: sims[r] })),
    );
    assert.throws(
      () => rec.similarItems('nope'),
      (e: unknown) => e instanceof SeqrecError && e.code === 'unknown_item',
    );
    rec.dispose();
    const sknn = await Recommender.load(dirs.sknn);
    assert.throws(
      () => sknn.similarItems(ids[0]),
      (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_argument' && /no item-to-item list/.test(e.message),
    );
    sknn.dispose();
    // In memory too, and with the same answers as the bundle.
    const mem = Recommender.fromModel(fitted.itemknn!, { dataset });
    const bundled = await Recommender.load(dirs.itemknn);
    assert.deepEqual(mem.recommend([ids[1], ids[2]], { k: 9 }), bundled.recommend([ids[1], ids[2]], { k: 9 }));
    mem.dispose();
    bundled.dispose();
  });

  it('refuses what does not apply, and a damaged bundle', async () => {
    const config = (field: string) => (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_config' && e.field === field;
    await assert.rejects(Recommender.load(dirs.itemknn, { retriever: 'faiss' }), config('retriever'));
    await assert.rejects(Recommender.load(dirs.itemknn, { fallback: { cooccurrence: 'on' } }), config('fallback.cooccurrence'));
    await assert.rejects(Recommender.load(dirs.itemknn, { fallback: { popular: 'recent-popularity' } }), config('fallback.popular'));
    // A checkpoint reader says what the directory is.
    await assert.rejects(
      loadModel(dirs.itemknn),
      (e: unknown) => e instanceof SeqrecError && e.code === 'bundle_invalid' && /neighbourhood-model bundle/.test(e.message),
    );
    const copy = join(root, 'damaged');
    await exportRankerBundle(fitted.itemknn!, copy, { vocabulary: dataset.vocabulary, popularity: dataset.itemPopularity() });
    const state = fileIn(copy, 'ranker.bin');
    const bytes = await readFile(state);
    bytes[bytes.length - 5] ^= 0x40;
    await writeFile(state, bytes);
    await assert.rejects(
      Recommender.load(copy),
      (e: unknown) => e instanceof SeqrecError && e.code === 'bundle_invalid' && e.file === 'ranker.bin' && /do not match model\.json/.test(e.message),
    );
    assert.throws(() => ItemKNN.fromState(dataset.itemCount, {}, { ...fitted.itemknn!.state(), ids: Int32Array.of(0) }), /offsets must run from 0 to 1/);
    await assert.rejects(
      exportRankerBundle(fitted.itemknn!, join(root, 'x'), { vocabulary: dataset.vocabulary, popularity: [1, 2] }),
      (e: unknown) => e instanceof SeqrecError && e.code === 'shape_mismatch' && e.field === 'popularity',
    );
  });

  it('seqrec train --model itemknn|sknn fits, reports and writes a bundle Recommender serves', async () => {
    const file = join(root, 'log.txt');
    await writeFile(
      file,
      Array.from({ length: 60 }, (_, u) => `${u + 1} ${Array.from({ length: 8 }, (_, i) => ((u + i * 3) % 17) + 1).join(' ')}`).join('\n') + '\n',
    );
    const lines: string[] = [];
    const out = join(root, 'trained-sknn');
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((chunk: string) => ((printed += chunk), true)) as typeof process.stdout.write;
    try {
      await runTrain({ data: file, model: 'sknn', out, 'runs-dir': 'none' }, (m) => lines.push(m));
    } finally {
      process.stdout.write = write;
    }
    assert.match(printed, /sknn on .* fitted in .* \(no training loop\)/);
    assert.match(printed, /MostPopular/);
    assert.match(lines.join('\n'), /saved sknn bundle/);
    const rec = await Recommender.load(out, { fallback: { popular: 'recent-popularity' } });
    assert.equal(rec.info().model, 'sknn');
    assert.equal(rec.recommend(['3', '4'], { k: 5 }).items.length, 5);
    assert.equal(rec.recommend([], { k: 2 }).fallback, 'recent-popularity');
    rec.dispose();
    await assert.rejects(
      runTrain({ data: file, model: 'itemknn', epochs: '3', 'runs-dir': 'none' }, () => {}),
      (e: unknown) => e instanceof SeqrecError && e.field === 'epochs' && /--epochs does not apply to --model itemknn/.test(e.message),
    );
    await assert.rejects(
      runTrain({ data: file, model: 'sknn', 'item-features': file, 'runs-dir': 'none' }, () => {}),
      (e: unknown) => e instanceof SeqrecError && /--item-features does not apply to --model sknn/.test(e.message),
    );
  });
});
