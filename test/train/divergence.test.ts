/**
 * Issue #14 item 11: a non-finite loss or weight stops training with a `diverged` error, an
 * infinite learning rate is refused up front, and whenever training throws the model is left
 * with its last finite (best) weights, never NaN.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { SequenceDataset } from '../../src/data/dataset.js';
import { Random } from '../../src/util/random.js';
import { SessionSet } from '../../src/data/session-parallel.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { SeqrecError } from '../../src/errors.js';
import { resolveLoss } from '../../src/losses/index.js';
import { softmaxCrossEntropy } from '../../src/losses/softmax.js';
import type { LossFunction } from '../../src/losses/types.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { trainSessionParallel } from '../../src/train/session-parallel.js';
import { Trainer } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

type Weights = Map<string, Float32Array>;

function weightsOf(model: { trainableVariables(): tf.Variable[] }): Weights {
  return new Map(model.trainableVariables().map((v, i) => [`${i}:${v.name}`, (v.dataSync() as Float32Array).slice()]));
}

function allFinite(w: Weights): boolean {
  for (const data of w.values()) for (const x of data) if (!Number.isFinite(x)) return false;
  return true;
}

function assertSameWeights(actual: Weights, expected: Weights): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, data] of expected) assert.deepEqual(actual.get(name), data, `weight ${name} differs`);
}

/** `base` (default full softmax), times NaN from call `from` on (1-based): a loss that blows up mid-training. */
function nanFrom(from: number, base: LossFunction = softmaxCrossEntropy): LossFunction {
  let calls = 0;
  return (input) => {
    calls++;
    const loss = base(input);
    return calls >= from ? (tf.mul(loss, NaN) as tf.Scalar) : loss;
  };
}

function divergedError(pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SeqrecError, String(e));
    assert.equal(e.code, 'diverged', e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

function smallData() {
  const log = generateSynthetic({ numUsers: 200, numItems: 60, numClusters: 4, minLength: 8, maxLength: 14, seed: 3 });
  return SequenceDataset.fromLog(log, { maxLen: 8, seed: 1 });
}

describe('Trainer.fit divergence', () => {
  it('refuses an infinite or NaN learning rate up front', () => {
    const model = new GRU4Rec({ itemCount: 10, embeddingDim: 4 });
    for (const learningRate of [Infinity, NaN, 0]) {
      assert.throws(
        () => new Trainer(model, { learningRate }),
        (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_config' && e.field === 'learningRate' && /finite/.test(e.message),
      );
    }
    model.dispose();
  });

  it('a NaN loss ends as diverged, with the best epoch weights restored', async () => {
    const data = smallData();
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed: 2 });
    const steps = Math.ceil(data.trainSamplesPerEpoch() / 32);
    let afterEpoch1: Weights | undefined;
    const trainer = new Trainer(model, {
      epochs: 4,
      batchSize: 32,
      loss: nanFrom(steps + 2), // the second step of epoch 2
      callbacks: { onEpochEnd: (r) => void (r.epoch === 1 && (afterEpoch1 = weightsOf(model))) },
    });
    await assert.rejects(trainer.fit(data), divergedError(/loss became NaN at epoch 2, step 2/));
    assert.ok(afterEpoch1);
    const now = weightsOf(model);
    assert.ok(allFinite(now), 'NaN weights were left in the model');
    assertSameWeights(now, afterEpoch1);
    model.dispose();
  });

  it('a NaN loss in the first epoch restores the weights training started from', async () => {
    const data = smallData();
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed: 2 });
    const initial = weightsOf(model);
    await assert.rejects(new Trainer(model, { epochs: 2, batchSize: 32, loss: nanFrom(3) }).fit(data), divergedError(/epoch 1, step 3/));
    assertSameWeights(weightsOf(model), initial);
    model.dispose();
  });

  it('a non-finite weight with a finite loss is found at the epoch end', async () => {
    const data = smallData();
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed: 2 });
    const steps = Math.ceil(data.trainSamplesPerEpoch() / 32);
    let afterEpoch1: Weights | undefined;
    const bias = model.namedWeights().find((w) => w.name === 'gru0/bh')!.variable;
    const trainer = new Trainer(model, {
      epochs: 4,
      batchSize: 32,
      callbacks: {
        onEpochEnd: (r) => void (r.epoch === 1 && (afterEpoch1 = weightsOf(model))),
        // After the last step of epoch 2: only the end-of-epoch check can see it.
        onBatchEnd: (step) => void (step === 2 * steps && bias.assign(tf.fill(bias.shape, Infinity))),
      },
    });
    await assert.rejects(trainer.fit(data), divergedError(/weight 'gru0\/bh' has non-finite values after epoch 2/));
    assertSameWeights(weightsOf(model), afterEpoch1!);
    model.dispose();
  });

  it('any other error during training also restores the best weights, and is rethrown as it was', async () => {
    const data = smallData();
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed: 2 });
    const steps = Math.ceil(data.trainSamplesPerEpoch() / 32);
    let afterEpoch1: Weights | undefined;
    const boom = new Error('callback failed');
    const trainer = new Trainer(model, {
      epochs: 4,
      batchSize: 32,
      callbacks: {
        onEpochEnd: (r) => void (r.epoch === 1 && (afterEpoch1 = weightsOf(model))),
        onBatchEnd: (step) => {
          if (step === steps + 3) throw boom;
        },
      },
    });
    await assert.rejects(trainer.fit(data), (e) => e === boom);
    assertSameWeights(weightsOf(model), afterEpoch1!);
    model.dispose();
  });

  it('a huge learning rate either trains or ends as diverged, never with NaN weights', async () => {
    const data = smallData();
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed: 2 });
    try {
      await new Trainer(model, { epochs: 2, batchSize: 32, learningRate: 1e38 }).fit(data);
    } catch (e) {
      assert.ok(e instanceof SeqrecError && e.code === 'diverged', String(e));
    }
    assert.ok(allFinite(weightsOf(model)));
    model.dispose();
  });
});

describe('session-parallel training divergence', () => {
  function sessions(): SessionSet {
    const r = new Random(4);
    const lists = Array.from({ length: 80 }, () => Array.from({ length: 2 + r.int(6) }, () => 1 + r.int(30)));
    return new SessionSet(lists, ItemVocabulary.fromItems(Array.from({ length: 30 }, (_, i) => `i${i + 1}`)));
  }

  it('refuses an infinite learning rate', async () => {
    const s = sessions();
    const model = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 8 });
    await assert.rejects(
      trainSessionParallel(model, s, { learningRate: Infinity }),
      (e: unknown) => e instanceof SeqrecError && e.code === 'invalid_config' && e.field === 'learningRate',
    );
    model.dispose();
  });

  for (const optimizer of ['adam', 'adagrad'] as const) {
    it(`${optimizer}: a NaN loss ends as diverged with the last finite epoch's weights`, async () => {
      const s = sessions();
      const model = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 8, seed: 5 });
      // Adagrad updates the item table row-sparsely, which needs a sampled loss.
      const base = optimizer === 'adam' ? softmaxCrossEntropy : resolveLoss('bpr-max', { itemCount: s.itemCount, itemPopularity: s.itemPopularity() });
      let afterEpoch1: Weights | undefined;
      let stepsPerEpoch = 0;
      const run = trainSessionParallel(model, s, {
        optimizer,
        batchSize: 16,
        epochs: 3,
        loss: nanFrom(Number.MAX_SAFE_INTEGER, base),
        onEpochEnd: (r) => {
          if (r.epoch === 1) {
            afterEpoch1 = weightsOf(model);
            stepsPerEpoch = r.steps;
          }
        },
      });
      await run;
      assert.ok(stepsPerEpoch > 2);
      // Again, now blowing up in the middle of epoch 2.
      const model2 = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 8, seed: 5 });
      await assert.rejects(
        trainSessionParallel(model2, s, { optimizer, batchSize: 16, epochs: 3, loss: nanFrom(stepsPerEpoch + 2, base) }),
        divergedError(/loss became NaN at epoch 2, step 2/),
      );
      const now = weightsOf(model2);
      assert.ok(allFinite(now));
      // Same seed, same steps: model2 after epoch 1 equals model after epoch 1.
      assert.deepEqual([...now.values()], [...afterEpoch1!.values()]);
      model.dispose();
      model2.dispose();
    });
  }
});
