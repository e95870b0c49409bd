import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { Random } from '../../src/util/random.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { MODELS } from '../../src/models/registry.js';
import { buildModel } from '../../src/models/registry.js';
import { batchOf, randomTrainBatch, setupBackend } from '../helpers.js';
import { fileIn, rewriteManifest } from './bundle-files.js';

let dir: string;
before(async () => {
  await setupBackend();
  dir = await mkdtemp(join(tmpdir(), 'seqrec-ckpt-'));
});
after(() => rm(dir, { recursive: true, force: true }));

function trainedModel(): { model: GRU4Rec; vocab: ItemVocabulary } {
  const vocab = ItemVocabulary.build([['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']]);
  const model = new GRU4Rec({ itemCount: vocab.size, embeddingDim: 8, maxLen: 5, seed: 11 });
  const opt = tf.train.adam(0.05);
  const batch = randomTrainBatch(new Random(2), 16, 5, vocab.size);
  for (let i = 0; i < 3; i++) opt.minimize(() => model.loss(batch), false, model.trainableVariables());
  opt.dispose();
  return { model, vocab };
}

describe('checkpoints', () => {
  it('round-trips weights, config and vocabulary exactly', async () => {
    const { model, vocab } = trainedModel();
    const path = join(dir, 'rt');
    await saveModel(model, path, { vocabulary: vocab, meta: { note: 'x' } });
    const loaded = await loadModel(path);
    assert.equal(loaded.model.name, 'gru4rec');
    assert.deepEqual(loaded.model.getConfig(), model.getConfig());
    assert.deepEqual([...loaded.model.itemEmbeddings().dataSync()], [...model.itemEmbeddings().dataSync()]);
    const batch = batchOf([[1, 2, 3], [4]], 5);
    const a = model.userEmbeddings(batch);
    const b = loaded.model.userEmbeddings(batch);
    assert.deepEqual([...b.dataSync()], [...a.dataSync()]);
    assert.equal(loaded.vocabulary?.decode(3), vocab.decode(3));
    assert.deepEqual(loaded.meta, { note: 'x' });
    tf.dispose([a, b]);
    loaded.model.dispose();
    model.dispose();
  });

  it('names the missing or damaged file', async () => {
    const { model, vocab } = trainedModel();
    const path = join(dir, 'bad');
    await saveModel(model, path, { vocabulary: vocab });
    await assert.rejects(loadModel(join(dir, 'nowhere')), /no such bundle directory/);

    const weightsPath = fileIn(path, 'weights.bin');
    const weights = await readFile(weightsPath);
    await writeFile(weightsPath, weights.subarray(0, weights.length - 4));
    await assert.rejects(loadModel(path), /weights\.bin: \d+ bytes, but model\.json describes/);
    await writeFile(weightsPath, weights);

    // Edits behind a re-recorded digest reach the schema and the model's own shapes.
    await rewriteManifest(path, (m) => (m.version = 99));
    await assert.rejects(loadModel(path), /model\.json: version 99 is not supported/);
    await rewriteManifest(path, (m) => ((m.version = 1), (m.model = 'bert4rec')));
    await assert.rejects(loadModel(path), /model\.json: model: unknown model 'bert4rec'/);
    await rewriteManifest(path, (m) => {
      m.model = 'gru4rec';
      m.weights[1].shape = [m.weights[1].shape[1], m.weights[1].shape[0]];
    });
    await assert.rejects(loadModel(path), /model\.json: weights\[1\]\.shape is \[\d+,\d+\], the gru4rec model expects/);
    await rewriteManifest(
      path,
      () => undefined,
      () => '{not json',
    );
    await assert.rejects(loadModel(path), /model\.json: not valid JSON/);
    model.dispose();
  });

  it('rejects a vocabulary that does not fit the model', async () => {
    const { model } = trainedModel();
    const path = join(dir, 'vocab');
    await saveModel(model, path, { vocabulary: ItemVocabulary.build([['a', 'b']]) });
    await assert.rejects(loadModel(path), /vocabulary has 3 entries .* but the model has 10 item rows/);
    model.dispose();
  });

  it('every registered model round-trips with its default config (the strict schema knows every field)', async () => {
    for (const name of Object.keys(MODELS)) {
      const model = buildModel(name, { itemCount: 12, embeddingDim: 4, maxLen: 5 });
      const path = join(dir, `all-${name}`);
      await saveModel(model, path);
      const loaded = await loadModel(path);
      assert.deepEqual(loaded.model.getConfig(), model.getConfig(), name);
      loaded.model.dispose();
      model.dispose();
    }
  });
});
