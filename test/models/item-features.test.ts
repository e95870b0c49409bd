import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ItemFeatures, itemFeatureIndex, parseFeatureJson, parseMoviesDat, readItemFeatures } from '../../src/data/item-features.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { SASRec } from '../../src/models/sasrec.js';
import { featureMean } from '../../src/ops/feature-mean.js';
import { softmaxCrossEntropy } from '../../src/losses/softmax.js';
import { AdamStep } from '../../src/train/step.js';
import { addItemsWithFeatures } from '../../src/train/feature-items.js';
import { exportBundle, loadBundle } from '../../src/bundle/bundle.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Random } from '../../src/util/random.js';
import { SeqrecError } from '../../src/errors.js';
import { batchOf, maxAbsDiff, setupBackend } from '../helpers.js';
import { groupBatch, groupedFeatures, groupVocabulary, weightsOf } from './feature-fixtures.js';

before(setupBackend);

const data = (t: tf.Tensor) => Array.from(t.dataSync());

describe('item features: files and index', () => {
  it('aligns a JSON attribute map with the vocabulary (CSR, dense ids in item order, unknown items counted)', () => {
    const raw = parseFeatureJson('{"b": [7, 3], "a": [3], "zz": [9], "c": []}', 'x.json');
    const vocab = ItemVocabulary.fromItems(['a', 'b', 'c', 'd']);
    const { features, unknownItems, itemsWithout } = itemFeatureIndex(raw, vocab);
    // a -> {3}, b -> {7, 3}: '3' is id 0 (first seen on a), '7' id 1.
    assert.deepEqual(features.names, ['3', '7']);
    assert.deepEqual(Array.from(features.offsets), [0, 0, 1, 3, 3, 3]);
    assert.deepEqual(Array.from(features.ids), [0, 0, 1]);
    assert.equal(unknownItems, 1);
    assert.equal(itemsWithout, 2);
    assert.equal(features.coveredItems, 2);
    const round = ItemFeatures.fromJSON(JSON.parse(JSON.stringify(features.toJSON())));
    assert.deepEqual(Array.from(round.ids), Array.from(features.ids));
  });

  it('reads movies.dat genres and names file, line and item on bad input', () => {
    const raw = parseMoviesDat("1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n");
    assert.deepEqual(raw.get('1'), ['Animation', "Children's", 'Comedy']);
    assert.throws(
      () => parseMoviesDat('1::A::Comedy\n2::B\n', 'movies.dat'),
      (e: unknown) => e instanceof SeqrecError && e.code === 'data_parse' && e.line === 2 && /movies\.dat:2/.test(e.message),
    );
    assert.throws(
      () => parseFeatureJson('{"a": [1.5]}', 'f.json'),
      (e: unknown) => e instanceof SeqrecError && /item 'a'/.test(e.message),
    );
    assert.throws(() => parseFeatureJson('[1, 2]', 'f.json'), /JSON object/);
    assert.throws(() => parseFeatureJson('{"a": 3}', 'f.json'), /item 'a': expected an array/);
  });
});

describe('item features: the real files (skipped without ../shared/data)', () => {
  const movies = join(import.meta.dirname, '../../../shared/data/ml-1m/movies.dat');
  const beauty = join(import.meta.dirname, '../../../shared/data/amazon-beauty/Beauty_item2attributes.json');
  it('reads ml-1m movies.dat: 3,883 movies, 18 genres', { skip: !existsSync(movies) }, async () => {
    const raw = await readItemFeatures(movies);
    assert.equal(raw.size, 3883);
    assert.equal(new Set([...raw.values()].flat()).size, 18);
    assert.deepEqual(raw.get('1'), ['Animation', "Children's", 'Comedy']);
  });
  it('reads Beauty_item2attributes.json', { skip: !existsSync(beauty) }, async () => {
    const raw = await readItemFeatures(beauty);
    assert.equal(raw.size, 12101);
    assert.deepEqual(raw.get('4'), ['1', '2', '3']);
  });
});

describe('featureMean', () => {
  it('averages feature rows per item (zero without features) and scatters the gradient back by 1/|f(i)|', () => {
    const table = tf.tensor2d([1, 2, 10, 20, 100, 200], [3, 2]);
    const rows = { offsets: Int32Array.from([0, 0, 2, 3, 3]), ids: Int32Array.from([0, 2, 1]) };
    const out = featureMean(table, rows);
    assert.deepEqual(data(out), [0, 0, 50.5, 101, 10, 20, 0, 0]);
    // d/dtable of sum(out * w) with w = item weights per row.
    const w = tf.tensor2d([5, 5, 1, 2, 3, 4, 7, 7], [4, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(featureMean(t as tf.Tensor2D, rows), w)))(table);
    // feature 0 and 2 get item 1's weight / 2; feature 1 gets item 2's weight.
    assert.deepEqual(data(g), [0.5, 1, 3, 4, 0.5, 1]);
    tf.dispose([table, out, w, g]);
  });
});

describe('GRU4Rec and SASRec with item features', () => {
  const vocab = groupVocabulary();

  it("'none' leaves the config as it was; a zero feature table leaves every vector as without features", () => {
    const plain = new GRU4Rec({ itemCount: 41, embeddingDim: 8, maxLen: 5, seed: 7 });
    assert.equal('itemFeatures' in plain.getConfig(), false);
    const withF = new GRU4Rec({ itemCount: 41, embeddingDim: 8, maxLen: 5, seed: 7, itemFeatures: 'simultaneous', featureCount: 5 });
    withF.setItemFeatures(groupedFeatures(vocab));
    const b = batchOf([[1, 2, 3], [11]], 5);
    const [u0, u1] = [plain.userEmbeddings(b), withF.userEmbeddings(b)];
    assert.deepEqual(data(u0), data(u1));
    assert.deepEqual(data(plain.itemEmbeddings()), data(withF.itemEmbeddings()));
    tf.dispose([u0, u1]);
    plain.dispose();
    withF.dispose();
  });

  it('scores with item row + mean of its feature rows (hand-computed)', () => {
    const model = new GRU4Rec({ itemCount: 41, embeddingDim: 2, maxLen: 5, seed: 1, itemFeatures: 'simultaneous', featureCount: 5 });
    const features = groupedFeatures(vocab); // ids: g0 0, odd 1, g1 2, g2 3, g3 4
    model.setItemFeatures(features);
    const f = Float32Array.from({ length: 10 }, (_, i) => i + 1); // feature k = [2k+1, 2k+2]
    const values = new Map(model.namedWeights().map(({ name, variable }) => [name, { shape: variable.shape, data: Float32Array.from(variable.dataSync()) }]));
    values.get('feature_embeddings')!.data.set(f);
    model.setNamedWeights(values);
    const table = weightsOf(model, 'item_embeddings');
    const e = model.itemEmbeddings().dataSync();
    // item 11: features g1 (id 2) and odd (id 1): mean = [(5+3)/2, (6+4)/2] = [4, 5].
    assert.ok(maxAbsDiff([e[22], e[23]], [table[22] + 4, table[23] + 5]) < 1e-6);
    // item 12: g1 only.
    assert.ok(maxAbsDiff([e[24], e[25]], [table[24] + 5, table[25] + 6]) < 1e-6);
    assert.deepEqual([e[0], e[1]], [0, 0]);
    model.dispose();
  });

  it('refuses row-wise (sparse) item gradients, which cannot train the feature term of every row', () => {
    const model = new SASRec({ itemCount: 41, embeddingDim: 8, maxLen: 5, seed: 2, itemFeatures: 'simultaneous', featureCount: 5 });
    model.setItemFeatures(groupedFeatures(vocab));
    assert.throws(
      () => new AdamStep(model, softmaxCrossEntropy, { learningRate: 0.01, itemGradients: 'sparse' }),
      (e: unknown) => e instanceof SeqrecError && e.field === 'itemGradients' && /item features.*'dense'/.test(e.message),
    );
    model.dispose();
  });

  it('interleaving trains the id part on odd steps and the feature part on even ones', () => {
    const model = new GRU4Rec({ itemCount: 41, embeddingDim: 8, maxLen: 5, seed: 2, itemFeatures: 'interleaving', featureCount: 5 });
    model.setItemFeatures(groupedFeatures(vocab));
    const step = new AdamStep(model, softmaxCrossEntropy, { learningRate: 0.01, itemGradients: 'dense' });
    const rng = new Random(3);
    const snap = () => ({ e: weightsOf(model, 'item_embeddings'), f: weightsOf(model, 'feature_embeddings'), w: weightsOf(model, 'gru0/wh') });
    const s0 = snap();
    step.run(groupBatch(rng, 16, 5));
    const s1 = snap();
    assert.ok(maxAbsDiff(s0.e, s1.e) > 0, 'step 1 moves the item table');
    assert.equal(maxAbsDiff(s0.f, s1.f), 0, 'step 1 holds the feature table');
    assert.ok(maxAbsDiff(s0.w, s1.w) > 0);
    step.run(groupBatch(rng, 16, 5));
    const s2 = snap();
    assert.equal(maxAbsDiff(s1.e, s2.e), 0, 'step 2 holds the item table');
    assert.ok(maxAbsDiff(s1.f, s2.f) > 0, 'step 2 moves the feature table');
    assert.ok(maxAbsDiff(s1.w, s2.w) > 0);
    step.dispose();
    model.dispose();
  });

  it('SASRec with features: padding does not change the user vector; the tensor count stays flat', () => {
    const model = new SASRec({ itemCount: 41, embeddingDim: 8, maxLen: 8, seed: 4, dropout: 0, itemFeatures: 'simultaneous', featureCount: 5 });
    model.setItemFeatures(groupedFeatures(vocab));
    const values = new Map(model.namedWeights().map(({ name, variable }) => [name, { shape: variable.shape, data: Float32Array.from(variable.dataSync()) }]));
    values.get('feature_embeddings')!.data.forEach((_, i, a) => (a[i] = Math.sin(i)));
    model.setNamedWeights(values);
    const h = [3, 14, 15, 9];
    model.itemEmbeddings();
    const before = tf.memory().numTensors;
    const a = model.userEmbeddings(batchOf([h], 4));
    const b = model.userEmbeddings(batchOf([h, [1]], 8));
    assert.ok(maxAbsDiff(data(a), data(b).slice(0, 8)) < 1e-5);
    tf.dispose([a, b]);
    model.itemEmbeddings();
    const step = new AdamStep(model, softmaxCrossEntropy, { learningRate: 0.01, itemGradients: 'dense', targets: 'every' });
    const rng = new Random(5);
    step.run(groupBatch(rng, 8, 8));
    const afterFirst = tf.memory().numTensors;
    step.run(groupBatch(rng, 8, 8));
    step.run(groupBatch(rng, 8, 8));
    assert.equal(tf.memory().numTensors, afterFirst);
    assert.ok(afterFirst - before < 40, 'only optimizer state is added');
    step.dispose();
    model.dispose();
  });

  it('a new item with features and no events is retrievable; with another feature it is not; bundles keep the features', async () => {
    const model = new GRU4Rec({ itemCount: 41, embeddingDim: 16, maxLen: 5, seed: 9, itemFeatures: 'simultaneous', featureCount: 5 });
    model.setItemFeatures(groupedFeatures(vocab));
    const step = new AdamStep(model, softmaxCrossEntropy, { learningRate: 0.01, itemGradients: 'dense' });
    const rng = new Random(11);
    let first = 0;
    let last = 0;
    for (let s = 0; s < 300; s++) {
      const loss = step.run(groupBatch(rng, 32, 5));
      if (s === 0) first = loss;
      last = loss;
    }
    step.dispose();
    assert.ok(last < first - 0.8, `learns the groups (loss ${first} -> ${last})`);
    const { model: extended, vocabulary } = addItemsWithFeatures(model, vocab, [
      { id: 'new-g1', features: ['g1'] },
      { id: 'new-g2', features: ['g2'] },
    ]);
    assert.equal(extended.itemCount, 43);
    // Old items keep their vectors exactly; the new one is its feature vector.
    const oldE = model.itemEmbeddings().dataSync();
    const newE = extended.itemEmbeddings().dataSync();
    assert.deepEqual(Array.from(newE.subarray(0, oldE.length)), Array.from(oldE));
    assert.throws(() => addItemsWithFeatures(model, vocab, [{ id: 'x', features: ['nope'] }]), /no row for: nope/);

    const rec = Recommender.fromModel(extended, { vocabulary, similarItemsMetric: 'cosine' });
    const top = rec.recommend(['11', '13', '15', '12'], { k: 12 }).items.map((i) => i.id);
    assert.ok(top.includes('new-g1'), `new-g1 in ${top.join(' ')}`);
    assert.ok(!top.includes('new-g2'), `new-g2 not in ${top.join(' ')}`);
    const similar = rec.similarItems('new-g1', 10).map((i) => i.id);
    assert.ok(similar.filter((id) => Number(id) >= 11 && Number(id) <= 20).length >= 8, `neighbours of new-g1: ${similar.join(' ')}`);
    rec.dispose();

    const dir = await mkdtemp(join(tmpdir(), 'seqrec-features-'));
    try {
      await exportBundle(extended, dir, { vocabulary, popularity: new Float64Array(43) });
      const loaded = await loadBundle(dir);
      assert.equal(loaded.model.itemFeatureStrategy, 'simultaneous');
      assert.deepEqual(Array.from(loaded.model.itemFeatures()!.ids), Array.from(extended.itemFeatures()!.ids));
      assert.ok(maxAbsDiff(loaded.model.itemEmbeddings().dataSync(), extended.itemEmbeddings().dataSync()) === 0);
      const served = await Recommender.load(dir);
      assert.deepEqual(
        served.recommend(['11', '13', '15', '12'], { k: 12 }).items.map((i) => i.id),
        top,
      );
      served.dispose();
      loaded.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    extended.dispose();
    model.dispose();
  });
});
