/**
 * Every-position training (the Trainer's `targets: 'every'`): the option's checks, the
 * dataset's one-sequence-per-user batches, SASRec's default, learning on planted sequential
 * data, and tensors flat over epochs.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { SASRec } from '../../src/models/sasrec.js';
import { YouTubeDNN } from '../../src/models/youtube-dnn.js';
import type { TrainBatch } from '../../src/data/types.js';
import { batchOf, maxAbsDiff, randomTrainBatch, setupBackend } from '../helpers.js';
import { Random } from '../../src/util/random.js';
import { evaluateModel, evaluatePopularity } from '../../src/train/evaluate.js';
import { Trainer } from '../../src/train/trainer.js';
import { lossFromSettings } from '../../src/losses/index.js';

before(setupBackend);

function smallData(protocol: 'comirec' | 'loo' = 'comirec', maxLen = 6): SequenceDataset {
  const log = generateSynthetic({ numUsers: 120, numItems: 60, numClusters: 4, minLength: 5, maxLength: 12, seed: 3 });
  return SequenceDataset.fromLog(log, { protocol, maxLen, seed: 1 });
}

describe("Trainer targets: 'every'", () => {
  it('goes through the option schema: a bad value or a combination it cannot honour is a clear error', () => {
    const sasrec = new SASRec({ itemCount: 20, embeddingDim: 8, maxLen: 5 });
    const gru = new GRU4Rec({ itemCount: 20, embeddingDim: 8, maxLen: 5 });
    assert.throws(() => new Trainer(sasrec, { targets: 'all' as never }), /Trainer.*targets.*must be 'last' or 'every', got 'all'/s);
    assert.throws(() => new Trainer(sasrec, { target: 'every' } as never), /target/);
    const dnn = new YouTubeDNN({ itemCount: 20, embeddingDim: 8, maxLen: 5 });
    assert.throws(() => new Trainer(dnn, { targets: 'every' }), /targets 'every' needs a model with a sequenceLoss, and youtubednn has none/);
    dnn.dispose();
    // Any loss trains at every position (the positions are its rows).
    assert.doesNotThrow(() => new Trainer(sasrec, { loss: 'gbce' }));
    assert.throws(() => new Trainer(sasrec, { parallelism: 2 }), /targets 'every' runs on one thread/);
    assert.throws(() => new Trainer(sasrec, { itemGradients: 'sparse' }), /targets 'every' scores every item/);
    assert.doesNotThrow(() => new Trainer(sasrec, { itemGradients: 'sparse', loss: 'gbce' }));
    // SASRec trained on its last position takes any loss; full softmax at every position is fine.
    assert.doesNotThrow(() => new Trainer(sasrec, { targets: 'last', loss: 'bpr' }));
    assert.doesNotThrow(() => new Trainer(sasrec, { targets: 'every', loss: 'softmax', itemGradients: 'dense' }));
    assert.doesNotThrow(() => new Trainer(gru, { targets: 'last' }));
    assert.doesNotThrow(() => new Trainer(gru, { targets: 'every' }));
    assert.equal(new Trainer(sasrec).resolveTargets(), 'every');
    assert.equal(new Trainer(sasrec, { targets: 'last' }).resolveTargets(), 'last');
    assert.equal(new Trainer(gru).resolveTargets(), 'last');
    sasrec.dispose();
    gru.dispose();
  });

  it('fitSessions refuses it', async () => {
    const gru = new GRU4Rec({ itemCount: 20, embeddingDim: 8, maxLen: 5 });
    const trainer = new Trainer(gru, { targets: 'last' }) as unknown as Trainer<GRU4Rec>;
    await assert.rejects(trainer.fitSessions({} as never), /option 'targets' applies to fit \(windowed training\) only/);
    gru.dispose();
  });

  for (const protocol of ['comirec', 'loo'] as const) {
    it(`trainSequenceBatches (${protocol}): one row per train user, the window before its last training target`, () => {
      const data = smallData(protocol);
      const seen: number[] = [];
      for (const batch of data.trainSequenceBatches(1, 32)) {
        for (let r = 0; r < batch.batchSize; r++) {
          const user = batch.users[r];
          seen.push(user);
          const seq = data.sequence(user);
          // loo keeps the last two items for valid and test.
          const k = (protocol === 'loo' && seq.length >= 3 ? seq.length - 2 : seq.length) - 1;
          assert.equal(batch.targets[r], seq[k]);
          const n = Math.min(k, data.maxLen);
          assert.equal(batch.lengths[r], n);
          assert.deepEqual([...batch.history.subarray(r * data.maxLen, r * data.maxLen + n)], [...seq.subarray(k - n, k)]);
          assert.ok(batch.history.subarray(r * data.maxLen + n, (r + 1) * data.maxLen).every((v) => v === 0));
        }
      }
      assert.deepEqual(
        seen.slice().sort((a, b) => a - b),
        [...data.trainUsers],
      );
      // The same (seed, epoch) gives the same order; another epoch another.
      const users = (epoch: number) => [...data.trainSequenceBatches(epoch, 32)].flatMap((b) => [...b.users]);
      assert.deepEqual(users(1), seen);
      assert.notDeepEqual(users(2), seen);
    });
  }

  it('is the default for SASRec (an epoch trains every real position of one window per user); GRU4Rec keeps one target per window', async () => {
    const data = smallData();
    let expected = 0;
    for (const b of data.trainSequenceBatches(1, 64)) for (const n of b.lengths) expected += n;
    for (const [model, want] of [
      [new SASRec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: data.maxLen, numBlocks: 1, seed: 1 }), expected],
      [new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: data.maxLen, seed: 1 }), data.trainSamplesPerEpoch()],
    ] as const) {
      const fit = await new Trainer(model, { epochs: 1, batchSize: 64 }).fit(data);
      assert.equal(fit.history[0].samples, want, model.name);
      assert.ok(Number.isFinite(fit.history[0].loss));
      model.dispose();
    }
  });

  it('training at every position leaves no tensors behind, epoch after epoch (SASRec, GRU4Rec)', async () => {
    const data = smallData();
    for (const model of [
      new SASRec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: data.maxLen, numBlocks: 2, numHeads: 2, dropout: 0.2, seed: 1 }),
      new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: data.maxLen, dropout: 0.1, hiddenDropout: 0.1, seed: 1 }),
    ]) {
      const before = tf.memory().numTensors;
      const perEpoch: number[] = [];
      const bytes: number[] = [];
      await new Trainer(model, {
        targets: 'every',
        epochs: 4,
        patience: 10,
        batchSize: 32,
        callbacks: {
          onEpochEnd: () => {
            perEpoch.push(tf.memory().numTensors);
            bytes.push(tf.memory().numBytes);
          },
        },
      }).fit(data);
      assert.equal(new Set(perEpoch).size, 1, `${model.name}: tensors per epoch ${perEpoch}`);
      assert.equal(new Set(bytes).size, 1, `${model.name}: bytes per epoch ${bytes}`);
      assert.equal(tf.memory().numTensors, before, model.name);
      model.dispose();
    }
  });

  it('a seed makes SASRec training reproducible (init, window order, dropout, per-sequence negatives); another seed differs', async () => {
    const data = smallData('loo');
    const run = async (seed: number) => {
      const model = new SASRec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: data.maxLen, dropout: 0.2, seed });
      const losses: number[] = [];
      const fit = await new Trainer(model, {
        loss: lossFromSettings('sampled-softmax', { negatives: 16, sharing: 'sequence' }),
        epochs: 2,
        batchSize: 16,
        callbacks: { onBatchEnd: (_step, loss) => losses.push(loss) },
      }).fit(data);
      const weights = model.namedWeights().map(({ variable }) => Array.from(variable.dataSync()));
      model.dispose();
      return { losses, weights, valid: fit.history.map((r) => r.valid) };
    };
    const [a, b, c] = [await run(11), await run(11), await run(12)];
    assert.ok(a.losses.length >= 10);
    assert.deepEqual(a.losses, b.losses, 'same seed: the same loss at every step');
    assert.deepEqual(a.weights, b.weights, 'same seed: the same weights, bit for bit');
    assert.deepEqual(a.valid, b.valid);
    assert.notDeepEqual(a.losses, c.losses, 'another seed: other losses');
  });

  it('SASRec trained by the Trainer at every position learns planted sequential structure: test recall far above MostPopular', async (t) => {
    const log = generateSynthetic({ numUsers: 600, numItems: 200, numClusters: 8, minLength: 12, maxLength: 30, seed: 11 });
    const data = SequenceDataset.fromLog(log, { protocol: 'loo', maxLen: 20, seed: 1 });
    const model = new SASRec({ itemCount: data.itemCount, embeddingDim: 32, maxLen: 20, numBlocks: 1, dropout: 0.1, seed: 1 });
    const started = performance.now();
    const fit = await new Trainer(model, { epochs: 12, patience: 12, batchSize: 32, learningRate: 5e-3, monitor: 'recall@20' }).fit(data);
    const seconds = (performance.now() - started) / 1000;
    const test = evaluateModel(model, data, 'test');
    const pop = evaluatePopularity(data, 'test');
    t.diagnostic(
      `test recall@20: SASRec ${test['recall@20'].toFixed(4)}, MostPopular ${pop['recall@20'].toFixed(4)}; best epoch ${fit.bestEpoch}, ${seconds.toFixed(1)} s`,
    );
    assert.ok(test['recall@20'] >= 4 * pop['recall@20'], `recall@20 ${test['recall@20']} vs MostPopular ${pop['recall@20']}`);
    model.dispose();
  });

  for (const [label, config] of [
    ['one layer, fused', {}],
    ['two layers, projection, output bias, ops recurrence', { numLayers: 2, hiddenDim: 6, outputBias: true, recurrence: 'ops' }],
  ] as const) {
    it(`GRU4Rec's sequenceLoss is the mean one-target loss of every prefix (${label})`, () => {
      const model = new GRU4Rec({ itemCount: 20, embeddingDim: 8, maxLen: 5, seed: 3, ...config });
      const batch = randomTrainBatch(new Random(4), 6, 5, 20);
      // Every real position p of row r as its own window (the prefix up to p) and target.
      const histories: number[][] = [];
      const targets: number[] = [];
      for (let r = 0; r < batch.batchSize; r++) {
        const row = [...batch.history.subarray(r * 5, r * 5 + batch.lengths[r])];
        for (let p = 0; p < row.length; p++) {
          histories.push(row.slice(0, p + 1));
          targets.push(p < row.length - 1 ? row[p + 1] : batch.targets[r]);
        }
      }
      const prefixes: TrainBatch = { ...batchOf(histories, 5), targets: Int32Array.from(targets), users: Int32Array.from(targets, (_, i) => i) };
      const every = tf.tidy(() => model.sequenceLoss(batch).dataSync()[0]);
      const oneByOne = tf.tidy(() => model.loss(prefixes).dataSync()[0]);
      assert.ok(Math.abs(every - oneByOne) < 1e-5, `${every} vs ${oneByOne}`);
      // Gradients reach every weight.
      const { grads } = tf.variableGrads(() => model.sequenceLoss(batch), model.trainableVariables());
      for (const [name, g] of Object.entries(grads)) assert.ok(tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]) > 0, name);
      tf.dispose(Object.values(grads));
      model.dispose();
    });
  }

  it("GRU4Rec's sequenceLoss has the same gradients through the fused recurrence as through the ops", () => {
    const batch = randomTrainBatch(new Random(8), 6, 5, 20);
    const grads = (recurrence: 'fused' | 'ops') => {
      const model = new GRU4Rec({ itemCount: 20, embeddingDim: 8, maxLen: 5, seed: 3, numLayers: 2, recurrence });
      const { value, grads } = tf.variableGrads(() => model.sequenceLoss(batch), model.trainableVariables());
      const out = { value: value.dataSync()[0], grads: Object.values(grads).map((g) => [...g.dataSync()]) };
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
      return out;
    };
    const fused = grads('fused');
    const ops = grads('ops');
    assert.ok(Math.abs(fused.value - ops.value) < 1e-5);
    fused.grads.forEach((g, i) => assert.ok(maxAbsDiff(g, ops.grads[i]) < 1e-4, `weight ${i}: ${maxAbsDiff(g, ops.grads[i])}`));
  });

  it("GRU4Rec trained with targets 'every' learns planted sequential structure too", async (t) => {
    const log = generateSynthetic({ numUsers: 600, numItems: 200, numClusters: 8, minLength: 12, maxLength: 30, seed: 11 });
    const data = SequenceDataset.fromLog(log, { protocol: 'loo', maxLen: 20, seed: 1 });
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 32, maxLen: 20, seed: 1 });
    const fit = await new Trainer(model, { targets: 'every', epochs: 8, patience: 8, batchSize: 32, learningRate: 5e-3, monitor: 'recall@20' }).fit(data);
    const test = evaluateModel(model, data, 'test');
    const pop = evaluatePopularity(data, 'test');
    t.diagnostic(
      `test recall@20: GRU4Rec (every position) ${test['recall@20'].toFixed(4)}, MostPopular ${pop['recall@20'].toFixed(4)}; best epoch ${fit.bestEpoch}`,
    );
    assert.ok(test['recall@20'] >= 3 * pop['recall@20'], `recall@20 ${test['recall@20']} vs MostPopular ${pop['recall@20']}`);
    model.dispose();
  });
});
