import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { GRU4Rec, type GRU4RecOptions } from '../../src/models/gru4rec.js';
import type { BaseRecaller } from '../../src/models/base.js';
import { buildModel } from '../../src/models/registry.js';
import { softmaxCrossEntropy } from '../../src/losses/softmax.js';
import { AdamStep } from '../../src/train/step.js';
import { addItemsWithFeatures } from '../../src/train/feature-items.js';
import { exportBundle, loadBundle } from '../../src/bundle/bundle.js';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { Random } from '../../src/util/random.js';
import { SeqrecError } from '../../src/errors.js';
import { batchOf, maxAbsDiff, setupBackend } from '../helpers.js';
import { groupBatch, groupedFeatures, groupVocabulary, weightsOf } from './feature-fixtures.js';

before(setupBackend);

const data = (t: tf.Tensor) => Array.from(t.dataSync());
const vocab = groupVocabulary();

function parallel(options: Partial<GRU4RecOptions> = {}): GRU4Rec {
  const model = new GRU4Rec({
    itemCount: 41,
    embeddingDim: 8,
    maxLen: 6,
    seed: 5,
    itemFeatures: 'simultaneous',
    featureCount: 5,
    featureArchitecture: 'parallel',
    ...options,
  });
  model.setItemFeatures(groupedFeatures(vocab));
  return model;
}

/** Non-zero feature rows, so the feature GRU sees a non-zero input. */
function randomiseFeatures(model: BaseRecaller): void {
  const values = new Map(model.namedWeights().map(({ name, variable }) => [name, { shape: variable.shape, data: Float32Array.from(variable.dataSync()) }]));
  values.get('feature_embeddings')!.data.forEach((_, i, a) => (a[i] = 0.3 * Math.sin(i + 1)));
  model.setNamedWeights(values);
}

describe("GRU4Rec featureArchitecture 'parallel' (p-RNN)", () => {
  it("has a feature GRU and a [2H, D] output map; 'shared' and unset are the model as before", () => {
    const model = parallel({ hiddenDim: 6 });
    const names = model.namedWeights().map((w) => w.name);
    for (const n of ['gru0/wi', 'feature_gru0/wi', 'feature_gru0/wh', 'feature_gru0/bi', 'feature_gru0/bh', 'feature_embeddings'])
      assert.ok(names.includes(n), n);
    assert.deepEqual(model.namedWeights().find((w) => w.name === 'parallel_projection')!.variable.shape, [12, 8]);
    assert.ok(!names.includes('projection'), 'the id-only projection is replaced by the parallel one');
    assert.equal(model.getConfig().featureArchitecture, 'parallel');
    model.dispose();

    const base = { itemCount: 41, embeddingDim: 8, maxLen: 6, seed: 5, itemFeatures: 'simultaneous' as const, featureCount: 5 };
    const unset = new GRU4Rec(base);
    const shared = new GRU4Rec({ ...base, featureArchitecture: 'shared' });
    assert.equal('featureArchitecture' in unset.getConfig(), false);
    for (const m of [unset, shared]) m.setItemFeatures(groupedFeatures(vocab));
    randomiseFeatures(unset);
    randomiseFeatures(shared);
    const b = batchOf([[1, 2, 3], [11]], 6);
    const [u0, u1] = [unset.userEmbeddings(b), shared.userEmbeddings(b)];
    assert.deepEqual(data(u0), data(u1));
    tf.dispose([u0, u1]);
    unset.dispose();
    shared.dispose();
  });

  it('refuses parallel without item features and in session-parallel steps', () => {
    assert.throws(
      () => new GRU4Rec({ itemCount: 41, featureArchitecture: 'parallel' }),
      (e: unknown) => e instanceof SeqrecError && e.field === 'featureArchitecture',
    );
    assert.throws(
      () => new GRU4Rec({ itemCount: 41, itemFeatures: 'simultaneous', featureCount: 2, featureArchitecture: 'both' as never }),
      /'shared' or 'parallel'/,
    );
    const model = parallel();
    assert.throws(() => model.stateSizes(), /session-parallel/);
    model.dispose();
  });

  it('the user vector depends on the feature GRU; padding does not change it; no tensor leaks', () => {
    const model = parallel();
    randomiseFeatures(model);
    const h = [3, 14, 15, 9];
    const a = model.userEmbeddings(batchOf([h], 4));
    const b = model.userEmbeddings(batchOf([h, [1]], 6));
    assert.ok(maxAbsDiff(data(a), data(b).slice(0, 8)) < 1e-5, 'padding invariance');
    // Zeroing the feature GRU's input weights changes the user vector.
    const values = new Map(model.namedWeights().map(({ name, variable }) => [name, { shape: variable.shape, data: Float32Array.from(variable.dataSync()) }]));
    values.get('feature_gru0/wi')!.data.fill(0);
    model.setNamedWeights(values);
    const c = model.userEmbeddings(batchOf([h], 4));
    assert.ok(maxAbsDiff(data(a), data(c)) > 1e-4, 'the feature subnet contributes');
    tf.dispose([a, b, c]);

    model.itemEmbeddings();
    const before = tf.memory().numTensors;
    const step = new AdamStep(model, softmaxCrossEntropy, { learningRate: 0.01, itemGradients: 'dense', targets: 'every' });
    const rng = new Random(5);
    step.run(groupBatch(rng, 8, 6));
    const afterFirst = tf.memory().numTensors;
    step.run(groupBatch(rng, 8, 6));
    step.run(groupBatch(rng, 8, 6));
    assert.equal(tf.memory().numTensors, afterFirst);
    assert.ok(afterFirst - before < 60, 'only optimizer state is added');
    const u = model.userEmbeddings(batchOf([h], 4));
    u.dispose();
    assert.equal(tf.memory().numTensors, afterFirst);
    step.dispose();
    model.dispose();
  });

  for (const targets of ['every', 'last'] as const) {
    it(`interleaving (targets '${targets}'): odd steps train the id subnet, even steps the feature subnet, the output map both`, () => {
      const model = parallel({ itemFeatures: 'interleaving', seed: 2 });
      randomiseFeatures(model);
      const step = new AdamStep(model, softmaxCrossEntropy, { learningRate: 0.01, itemGradients: 'dense', targets });
      const rng = new Random(3);
      const ids = ['item_embeddings', 'gru0/wi', 'gru0/bi', 'gru0/wh', 'gru0/bh'];
      const feats = ['feature_embeddings', 'feature_gru0/wi', 'feature_gru0/bi', 'feature_gru0/wh', 'feature_gru0/bh'];
      const snap = () => new Map([...ids, ...feats, 'parallel_projection'].map((n) => [n, weightsOf(model, n)]));
      const moved = (a: Map<string, Float32Array>, b: Map<string, Float32Array>, n: string) => maxAbsDiff(a.get(n)!, b.get(n)!) > 0;
      const s0 = snap();
      step.run(groupBatch(rng, 16, 6));
      const s1 = snap();
      for (const n of ids) assert.ok(moved(s0, s1, n), `step 1 moves ${n}`);
      for (const n of feats) assert.ok(!moved(s0, s1, n), `step 1 holds ${n}`);
      assert.ok(moved(s0, s1, 'parallel_projection'));
      step.run(groupBatch(rng, 16, 6));
      const s2 = snap();
      for (const n of ids) assert.ok(!moved(s1, s2, n), `step 2 holds ${n}`);
      for (const n of feats) assert.ok(moved(s1, s2, n), `step 2 moves ${n}`);
      assert.ok(moved(s1, s2, 'parallel_projection'));
      step.dispose();
      model.dispose();
    });
  }

  it('simultaneous trains every weight; the config, a rebuilt model and a bundle give identical scores; feature-only items get vectors', async () => {
    const model = parallel({ hiddenDim: 12, outputBias: true });
    const step = new AdamStep(model, softmaxCrossEntropy, { learningRate: 0.01, itemGradients: 'dense', targets: 'every' });
    const rng = new Random(7);
    const s0 = new Map(model.namedWeights().map((w) => [w.name, weightsOf(model, w.name)]));
    for (let s = 0; s < 3; s++) step.run(groupBatch(rng, 16, 6));
    step.dispose();
    for (const [name, before] of s0) assert.ok(maxAbsDiff(before, weightsOf(model, name)) > 0, `${name} moved`);

    const config = JSON.parse(JSON.stringify(model.getConfig()));
    assert.equal(config.featureArchitecture, 'parallel');
    const rebuilt = buildModel('gru4rec', config);
    rebuilt.setNamedWeights(new Map(model.namedWeights().map(({ name, variable }) => [name, { shape: variable.shape, data: weightsOf(model, name) }])));
    rebuilt.setItemFeatures(model.itemFeatures()!);
    const b = batchOf([[1, 2, 3], [11, 12], [33]], 6);
    const u = model.userEmbeddings(b);
    const ur = rebuilt.userEmbeddings(b);
    assert.deepEqual(data(ur), data(u));
    tf.dispose(ur);
    rebuilt.dispose();

    const dir = await mkdtemp(join(tmpdir(), 'seqrec-prnn-'));
    try {
      await exportBundle(model, dir, { vocabulary: vocab, popularity: new Float64Array(41) });
      const loaded = await loadBundle(dir);
      assert.equal((loaded.model.getConfig() as { featureArchitecture?: string }).featureArchitecture, 'parallel');
      const ul = loaded.model.userEmbeddings(b);
      assert.deepEqual(data(ul), data(u));
      assert.deepEqual(data(loaded.model.itemEmbeddings()), data(model.itemEmbeddings()));
      tf.dispose(ul);
      loaded.model.dispose();
      await saveModel(model, join(dir, 'checkpoint'));
      const checkpoint = await loadModel(join(dir, 'checkpoint'));
      const uc = checkpoint.model.userEmbeddings(b);
      assert.deepEqual(data(uc), data(u));
      tf.dispose(uc);
      checkpoint.model.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    tf.dispose(u);

    const { model: extended } = addItemsWithFeatures(model, vocab, [{ id: 'new-g1', features: ['g1'] }]);
    const e = extended.itemEmbeddings();
    const width = e.shape[1];
    const row = Array.from(e.dataSync().subarray(41 * width, 42 * width));
    // The new row is g1's feature row (mean of one feature): non-zero.
    assert.ok(row.some((x) => x !== 0));
    extended.dispose();
    model.dispose();
  });
});
