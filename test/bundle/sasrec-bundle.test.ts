/**
 * SASRec is a built-in model (registry MODELS): its checkpoint's config is checked by the
 * manifest's bounded field list, and a trained SASRec survives a checkpoint and a serving
 * bundle with the same scores.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { exportBundle, loadBundle } from '../../src/bundle/bundle.js';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import type { BaseRecaller } from '../../src/models/base.js';
import { MODELS } from '../../src/models/registry.js';
import { SASRec, type SASRecOptions } from '../../src/models/sasrec.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Random } from '../../src/util/random.js';
import { batchOf, randomTrainBatch, setupBackend } from '../helpers.js';
import { rewriteManifest } from './bundle-files.js';

let dir: string;
before(async () => {
  await setupBackend();
  dir = await mkdtemp(join(tmpdir(), 'seqrec-sasrec-bundle-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const ITEM_IDS = Array.from({ length: 15 }, (_, i) => `i${i}`);

/** A SASRec with every non-default config value, moved off its initialisation by a few Adam steps. */
function trainedSASRec(overrides: Partial<SASRecOptions> = {}): { model: SASRec; vocabulary: ItemVocabulary } {
  const vocabulary = ItemVocabulary.build([ITEM_IDS]);
  const model = new SASRec({
    itemCount: vocabulary.size,
    embeddingDim: 8,
    maxLen: 6,
    numBlocks: 3,
    numHeads: 2,
    dropout: 0.1,
    scaleEmbeddings: false,
    positionOrigin: 'start',
    separateOutput: true,
    seed: 9,
    ...overrides,
  });
  const opt = tf.train.adam(0.05);
  const batch = randomTrainBatch(new Random(3), 12, 6, vocabulary.size);
  for (let i = 0; i < 3; i++) opt.minimize(() => model.sequenceLoss(batch), false, model.trainableVariables());
  opt.dispose();
  return { model, vocabulary };
}

/** User vectors and scores over the whole table for a few histories (padding of several lengths). */
function scores(model: BaseRecaller): number[] {
  return tf.tidy(() => {
    const users = model.userEmbeddings(batchOf([[1, 2, 3], [4], [5, 6, 7, 8, 9, 10], [2, 2]], 6));
    const s = tf.matMul(tf.squeeze(users, [1]), model.itemEmbeddings(), false, true);
    return [...users.dataSync(), ...s.dataSync()];
  });
}

describe('SASRec checkpoints and bundles', () => {
  it('is a built-in model', () => {
    assert.ok(Object.hasOwn(MODELS, 'sasrec'));
  });

  it('a checkpoint round-trips config, weights and scores exactly', async () => {
    const { model, vocabulary } = trainedSASRec();
    const path = join(dir, 'ckpt');
    await saveModel(model, path, { vocabulary });
    const loaded = await loadModel(path);
    assert.ok(loaded.model instanceof SASRec);
    assert.deepEqual(loaded.model.getConfig(), model.getConfig());
    assert.deepEqual(
      loaded.model.namedWeights().map((w) => w.name),
      model.namedWeights().map((w) => w.name),
    );
    assert.deepEqual(scores(loaded.model), scores(model));
    loaded.model.dispose();
    model.dispose();
  });

  it('a serving bundle round-trips with the same scores (default config too)', async () => {
    for (const [name, overrides] of [
      ['custom', {}],
      ['defaults', { numBlocks: 2, numHeads: 1, dropout: 0.2, scaleEmbeddings: true, positionOrigin: 'end', separateOutput: false }],
    ] as const) {
      const { model, vocabulary } = trainedSASRec(overrides);
      const path = join(dir, `bundle-${name}`);
      const popularity = Float64Array.from({ length: vocabulary.size }, (_, i) => i);
      await exportBundle(model, path, { vocabulary, popularity, popularitySource: 'test' });
      const loaded = await loadBundle(path);
      assert.equal(loaded.model.name, 'sasrec');
      assert.deepEqual(loaded.model.getConfig(), model.getConfig(), name);
      assert.deepEqual(scores(loaded.model), scores(model), name);
      loaded.model.dispose();
      model.dispose();
    }
  });

  it('a Recommender over the loaded bundle recommends what the model in memory does', async () => {
    const { model, vocabulary } = trainedSASRec();
    const path = join(dir, 'serve');
    const popularity = Float64Array.from({ length: vocabulary.size }, (_, i) => i);
    await exportBundle(model, path, { vocabulary, popularity, popularitySource: 'test' });
    const fromDisk = await Recommender.load(path);
    const inMemory = Recommender.fromModel(model, { vocabulary, popularity });
    for (const history of [['i1', 'i2', 'i3'], ['i7'], ITEM_IDS.slice(0, 9)]) {
      const a = fromDisk.recommend(history, { k: 5 });
      const b = inMemory.recommend(history, { k: 5 });
      assert.equal(a.items.length, 5);
      assert.deepEqual(a.items, b.items);
    }
    fromDisk.dispose();
    inMemory.dispose();
    model.dispose();
  });

  it("the manifest bounds SASRec's fields and refuses unknown ones", async () => {
    const { model, vocabulary } = trainedSASRec();
    const path = join(dir, 'bounds');
    await saveModel(model, path, { vocabulary });
    model.dispose();
    const cases: [(c: Record<string, unknown>) => void, RegExp][] = [
      [(c) => (c.numBlocks = 1000), /config\.numBlocks/],
      [(c) => (c.numHeads = 0), /config\.numHeads/],
      [(c) => (c.positionOrigin = 'middle'), /config\.positionOrigin/],
      [(c) => (c.separateOutput = 'yes'), /config\.separateOutput/],
      [(c) => (c.scaleEmbeddings = 1), /config\.scaleEmbeddings/],
      [(c) => (c.numBlock = 2), /numBlock/],
      // In bounds for the manifest but more blocks than the weights hold.
      [(c) => (c.numBlocks = 60), /config\.numBlocks is too large for the weights/],
    ];
    for (const [edit, message] of cases) {
      await rewriteManifest(path, (m) => edit(m.config));
      await assert.rejects(loadModel(path), message);
      // Back to the saved config for the next case.
      await rewriteManifest(path, (m) => (m.config = { ...model.getConfig() }));
    }
    const loaded = await loadModel(path);
    assert.equal(loaded.model.name, 'sasrec');
    loaded.model.dispose();
  });
});
