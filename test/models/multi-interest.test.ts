import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/util/random.js';
import type { SequenceBatch, TrainBatch } from '../../src/data/types.js';
import type { BaseRecaller } from '../../src/models/base.js';
import { ComiRecDR } from '../../src/models/comirec-dr.js';
import { ComiRecSA } from '../../src/models/comirec-sa.js';
import { MIND } from '../../src/models/mind.js';
import { createModel, MODELS } from '../../src/models/registry.js';
import { YouTubeDNN } from '../../src/models/youtube-dnn.js';
import { ExactRetriever } from '../../src/retrieval/exact.js';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { batchOf, maxAbsDiff, randomTrainBatch, setupBackend } from '../helpers.js';
import { referenceDR, referenceMIND, referenceSA, vecMat, weightsOf } from './reference.js';

before(setupBackend);

const ITEMS = 40;
const DIM = 8;
const MAXLEN = 6;
const K = 3;

type Factory = (options?: Record<string, unknown>) => BaseRecaller;
const MULTI: [string, Factory][] = [
  ['MIND', (o = {}) => new MIND({ itemCount: ITEMS, embeddingDim: DIM, maxLen: MAXLEN, numInterests: K, seed: 1, ...o })],
  ['ComiRec-DR', (o = {}) => new ComiRecDR({ itemCount: ITEMS, embeddingDim: DIM, maxLen: MAXLEN, numInterests: K, seed: 1, ...o })],
  ['ComiRec-SA', (o = {}) => new ComiRecSA({ itemCount: ITEMS, embeddingDim: DIM, maxLen: MAXLEN, numInterests: K, seed: 1, ...o })],
];
const ALL: [string, Factory][] = [...MULTI, ['YouTubeDNN', (o = {}) => new YouTubeDNN({ itemCount: ITEMS, embeddingDim: DIM, maxLen: MAXLEN, seed: 1, ...o })]];

function embeddings(model: BaseRecaller, batch: SequenceBatch): Float32Array {
  const t = model.userEmbeddings(batch);
  assert.deepEqual(t.shape, [batch.batchSize, model.numInterests, model.embeddingDim]);
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

/** Row `r` of [B, K, D] user embeddings. */
const userRow = (v: Float32Array, model: BaseRecaller, r: number) =>
  v.subarray(r * model.numInterests * model.embeddingDim, (r + 1) * model.numInterests * model.embeddingDim);

/** The batch with arbitrary item ids written into its padded slots (mask stays 0). */
function withGarbageInPadding(batch: SequenceBatch, rng: Random): SequenceBatch {
  const history = batch.history.slice();
  for (let i = 0; i < history.length; i++) if (batch.mask[i] === 0) history[i] = 1 + rng.int(ITEMS - 1);
  return { ...batch, history };
}

/** A training batch with one full-length row, so every position (and position map) is used. */
function fullTrainBatch(seed: number, size = 24): TrainBatch {
  const batch = randomTrainBatch(new Random(seed), size, MAXLEN, ITEMS);
  for (let i = 0; i < MAXLEN; i++) {
    batch.history[i] = 1 + i;
    batch.mask[i] = 1;
  }
  batch.lengths[0] = MAXLEN;
  return batch;
}

describe('multi-interest models: shared behaviour', () => {
  for (const [name, make] of ALL) {
    it(`${name}: user embeddings are [B, K, D] and finite`, () => {
      const model = make();
      const v = embeddings(model, batchOf([[1, 2, 3], [4], [5, 6, 7, 8, 9, 10]], MAXLEN));
      assert.ok(v.every(Number.isFinite));
      assert.equal(model.numInterests, name === 'YouTubeDNN' ? 1 : K);
      model.dispose();
    });

    it(`${name}: padding changes nothing (batch-mates, ids in padded slots${name === 'ComiRec-DR' ? '' : ', window length'})`, () => {
      const model = make();
      const hist = [7, 3, 22, 5];
      const alone = embeddings(model, batchOf([hist], MAXLEN));
      const mates = embeddings(model, batchOf([[1, 2, 3, 4, 5, 6], hist, [39]], MAXLEN));
      assert.ok(maxAbsDiff(alone, userRow(mates, model, 1)) < 1e-5, 'batch-mates');
      const garbage = embeddings(model, withGarbageInPadding(batchOf([[1, 2], hist, [39]], MAXLEN), new Random(3)));
      assert.ok(maxAbsDiff(alone, userRow(garbage, model, 1)) < 1e-5, 'ids in padded slots');
      if (name !== 'ComiRec-DR') {
        const shortWindow = embeddings(model, batchOf([hist], 4));
        assert.ok(maxAbsDiff(alone, shortWindow) < 1e-5, 'window length');
      }
      // The real items do matter.
      const other = embeddings(model, batchOf([[7, 3, 22, 6]], MAXLEN));
      assert.ok(maxAbsDiff(alone, other) > 1e-4);
      model.dispose();
    });

    it(`${name}: gradients reach every trainable variable`, () => {
      const options: Record<string, unknown> =
        name === 'MIND'
          ? { bilinearBias: true, dynamicInterests: true, diversityWeight: 0.1, sharpenPower: 0.5 }
          : name === 'YouTubeDNN'
            ? {}
            : { diversityWeight: 0.1 };
      const model = make(options);
      const batch = fullTrainBatch(5);
      const { value, grads } = tf.variableGrads(() => model.loss(batch), model.trainableVariables());
      assert.ok(Number.isFinite(value.dataSync()[0]));
      for (const { name: weight, variable } of model.namedWeights()) {
        const g = grads[variable.name];
        assert.ok(g, `no gradient for ${weight}`);
        const data = g.dataSync();
        assert.ok(data.every(Number.isFinite), `${weight}: non-finite gradient`);
        assert.ok(
          data.some((x) => x !== 0),
          `${weight}: gradient is zero everywhere`,
        );
      }
      // The padding row gets none.
      const itemTable = model.namedWeights().find((w) => w.name === 'item_embeddings')!;
      const table = grads[itemTable.variable.name].dataSync();
      assert.deepEqual([...table.subarray(0, DIM)], new Array(DIM).fill(0));
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
    });

    it(`${name}: no tensor leaks across training steps and inference`, () => {
      const model = make();
      const opt = tf.train.adam(0.01);
      const rng = new Random(2);
      const step = () => {
        const batch = randomTrainBatch(rng, 8, MAXLEN, ITEMS);
        opt.minimize(() => model.loss(batch), true, model.trainableVariables())?.dispose();
        model.userEmbeddings(batch).dispose();
      };
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) step();
      assert.equal(tf.memory().numTensors, before);
      opt.dispose();
      model.dispose();
    });

    it(`${name}: checkpoint round trip gives the same embeddings`, async () => {
      const model = make();
      const opt = tf.train.adam(0.05);
      const batch = fullTrainBatch(9);
      opt.minimize(() => model.loss(batch), false, model.trainableVariables());
      opt.dispose();
      const dir = await mkdtemp(join(tmpdir(), 'seqrec-mi-'));
      try {
        await saveModel(model, dir);
        const { model: loaded } = await loadModel(dir);
        assert.equal(loaded.name, model.name);
        assert.ok(maxAbsDiff(embeddings(model, batch), embeddings(loaded, batch)) < 1e-6);
        loaded.dispose();
      } finally {
        await rm(dir, { recursive: true, force: true });
        model.dispose();
      }
    });
  }

  it('the registry builds every model by name, numInterests included', () => {
    for (const name of ['youtubednn', 'mind', 'comirec-dr', 'comirec-sa']) assert.ok(name in MODELS);
    const m = createModel('comirec-sa', { itemCount: 20, numInterests: 2, embeddingDim: 4, maxLen: 3 });
    assert.equal(m.numInterests, 2);
    assert.equal((MODELS as Record<string, { multiInterest?: boolean }>)['mind'].multiInterest, true);
    assert.ok(!(MODELS as Record<string, { multiInterest?: boolean }>)['gru4rec'].multiInterest);
    m.dispose();
  });

  it('rejects bad configs with the field named', () => {
    const base = { itemCount: 10 };
    assert.throws(() => new MIND({ ...base, numInterests: 0 }), /numInterests/);
    assert.throws(() => new MIND({ ...base, routingIterations: 0 }), /routingIterations/);
    assert.throws(() => new MIND({ ...base, sharpenPower: 1.5 }), /sharpenPower/);
    assert.throws(() => new MIND({ ...base, readout: 'max' as 'hard' }), /readout/);
    assert.throws(() => new MIND({ ...base, readoutPower: 0 }), /readoutPower/);
    assert.throws(() => new MIND({ ...base, logitInit: 'uniform' as 'normal' }), /logitInit/);
    assert.throws(() => new ComiRecDR({ ...base, diversityWeight: -1 }), /diversityWeight/);
    assert.throws(() => new ComiRecDR({ ...base, bilinearInitStd: 0 }), /bilinearInitStd/);
    assert.throws(() => new ComiRecSA({ ...base, attentionDim: 0 }), /attentionDim/);
    assert.throws(() => new ComiRecSA({ ...base, positionEmbeddings: false, valuesWithPositions: true }), /valuesWithPositions/);
    assert.throws(() => new YouTubeDNN({ itemCount: 1 }), /itemCount/);
  });

  it('MIND trains with the hard (argmax) readout by default, as docs/models/mind.md documents', () => {
    const make = (o: Record<string, unknown> = {}) => new MIND({ itemCount: ITEMS, embeddingDim: DIM, maxLen: MAXLEN, numInterests: K, seed: 5, ...o });
    const byDefault = make();
    assert.equal(byDefault.config.readout, 'hard');
    assert.equal(byDefault.config.readoutPower, 2);
    assert.equal(byDefault.config.logitInit, 'truncated');
    const batch = randomTrainBatch(new Random(9), 6, MAXLEN, ITEMS);
    const lossOf = (m: MIND) => {
      const l = m.loss(batch);
      const v = l.dataSync()[0];
      l.dispose();
      m.dispose();
      return v;
    };
    const hard = make({ readout: 'hard' });
    const soft = make({ readout: 'soft' });
    const [d, h, s] = [lossOf(byDefault), lossOf(hard), lossOf(soft)];
    assert.equal(d, h);
    assert.notEqual(d, s);
  });

  it('ComiRec-DR needs windows of exactly maxLen; ComiRec-SA at most maxLen', () => {
    const dr = MULTI[1][1]();
    const sa = MULTI[2][1]();
    assert.throws(() => dr.userEmbeddings(batchOf([[1, 2]], MAXLEN - 1)), /maxLen/);
    assert.throws(() => sa.userEmbeddings(batchOf([[1, 2]], MAXLEN + 1)), /maxLen|position/);
    dr.dispose();
    sa.dispose();
  });
});

describe('the models against their equations computed by hand', () => {
  const histories = [[4, 9, 1], [29, 2, 2, 7, 15, 11], [5]];

  it('MIND (inference logits, bilinear bias, ReLU layer)', () => {
    const model = new MIND({ itemCount: 30, embeddingDim: 5, maxLen: 6, numInterests: 3, seed: 4, bilinearBias: true });
    const got = embeddings(model, batchOf(histories, 6));
    const w = weightsOf(model);
    const logits = model.inferenceLogits(6);
    histories.forEach((h, r) => {
      const b0 = [0, 1, 2].map((k) => Array.from(logits.subarray(k * 6, k * 6 + h.length)));
      const want = referenceMIND(w, h, b0, 5, 3, true);
      assert.ok(
        maxAbsDiff(
          userRow(got, model, r),
          want.flatMap((x) => [...x]),
        ) < 1e-5,
        `row ${r}`,
      );
    });
    model.dispose();
  });

  it('ComiRec-DR (per-position maps, zero logits, no ReLU layer)', () => {
    const model = new ComiRecDR({ itemCount: 30, embeddingDim: 4, maxLen: 6, numInterests: 3, seed: 4 });
    const got = embeddings(model, batchOf(histories, 6));
    const w = weightsOf(model);
    histories.forEach((h, r) => {
      const want = referenceDR(w, h, 3, 4, 3);
      assert.ok(
        maxAbsDiff(
          userRow(got, model, r),
          want.flatMap((x) => [...x]),
        ) < 1e-4,
        `row ${r}`,
      );
    });
    model.dispose();
  });

  it('ComiRec-SA (positions inside the attention only)', () => {
    const model = new ComiRecSA({ itemCount: 30, embeddingDim: 4, maxLen: 6, numInterests: 3, seed: 4 });
    const got = embeddings(model, batchOf(histories, 6));
    const w = weightsOf(model);
    histories.forEach((h, r) => {
      const want = referenceSA(w, h, 3, 4, 16);
      assert.ok(
        maxAbsDiff(
          userRow(got, model, r),
          want.flatMap((x) => [...x]),
        ) < 1e-5,
        `row ${r}`,
      );
    });
    model.dispose();
  });

  it('YouTubeDNN (masked mean, dense layer)', () => {
    const model = new YouTubeDNN({ itemCount: 30, embeddingDim: 4, maxLen: 6, seed: 4 });
    const got = embeddings(model, batchOf(histories, 6));
    const w = weightsOf(model);
    const table = w.get('item_embeddings')!;
    histories.forEach((h, r) => {
      const mean = new Float64Array(4);
      for (const item of h) for (let j = 0; j < 4; j++) mean[j] += table[item * 4 + j] / h.length;
      const want = vecMat(mean, w.get('dense/kernel')!, 4, 4, w.get('dense/bias')!);
      assert.ok(maxAbsDiff(got.subarray(r * 4, r * 4 + 4), want) < 1e-5, `row ${r}`);
    });
    model.dispose();
  });
});

describe('MIND specifics', () => {
  const make = (o: Record<string, unknown> = {}) => new MIND({ itemCount: ITEMS, embeddingDim: DIM, maxLen: 20, numInterests: 4, seed: 11, ...o });

  it('is deterministic at inference (same calls, same seed) and random in training', () => {
    const a = make();
    const b = make();
    const batch = randomTrainBatch(new Random(1), 6, 20, ITEMS);
    const first = embeddings(a, batch);
    assert.deepEqual(embeddings(a, batch), first);
    assert.deepEqual(embeddings(b, batch), first);
    const t1 = a.userEmbeddings(batch, { training: true });
    const t2 = a.userEmbeddings(batch, { training: true });
    assert.ok(maxAbsDiff(t1.dataSync(), t2.dataSync()) > 1e-4, 'training draws fresh logits');
    tf.dispose([t1, t2]);
    const other = make({ inferenceSeed: 12 });
    assert.ok(maxAbsDiff(embeddings(other, batch), first) > 1e-4, 'inferenceSeed changes the fixed logits');
    // The fixed logits do not depend on the window length asked for.
    assert.deepEqual(
      [...a.inferenceLogits(3)],
      [0, 1, 2, 3].flatMap((k) => [...a.inferenceLogits(20).subarray(k * 20, k * 20 + 3)]),
    );
    for (const m of [a, b, other]) m.dispose();
  });

  it('draws truncated N(0, σ²) logits by default (|b| <= 2σ), plain normal on request', () => {
    const trunc = make({ logitStd: 0.5 });
    const normal = make({ logitStd: 0.5, logitInit: 'normal' });
    const t = trunc.inferenceLogits(500);
    const n = normal.inferenceLogits(500);
    assert.ok(Math.max(...t.map(Math.abs)) <= 1 + 1e-6);
    assert.ok(Math.max(...n.map(Math.abs)) > 1);
    const std = Math.sqrt(n.reduce((s, x) => s + x * x, 0) / n.length);
    assert.ok(Math.abs(std - 0.5) < 0.05, `std ${std}`);
    trunc.dispose();
    normal.dispose();
  });

  it("dynamic interests: K'_u = max(1, min(K, floor(log2 n))); unused slots repeat interest 0 and retrieval sees only the used ones", () => {
    const model = make({ dynamicInterests: true });
    const histories = [[1], [1, 2, 3], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9], Array.from({ length: 20 }, (_, i) => i + 1)];
    const batch = batchOf(histories, 20);
    assert.deepEqual([...model.activeInterestCounts(batch)], [1, 1, 2, 3, 4]);
    const v = embeddings(model, batch);
    const kd = 4 * DIM;
    histories.forEach((_, r) => {
      const active = model.activeInterestCounts(batch)[r];
      for (let k = active; k < 4; k++) {
        assert.deepEqual([...v.subarray(r * kd + k * DIM, r * kd + (k + 1) * DIM)], [...v.subarray(r * kd, r * kd + DIM)]);
      }
    });
    // Merged retrieval over all K slots == merged retrieval over the used interests only.
    const retriever = new ExactRetriever(model.itemEmbeddings().dataSync() as Float32Array, DIM);
    const all = retriever.search(v, { k: 10, interests: 4 });
    histories.forEach((_, r) => {
      const active = model.activeInterestCounts(batch)[r];
      const own = retriever.search(v.slice(r * kd, r * kd + active * DIM), { k: 10, interests: active });
      assert.deepEqual([...all.ids.subarray(r * 10, r * 10 + 10)], [...own.ids]);
    });
    // Without the option every user has K.
    assert.deepEqual([...make().activeInterestCounts(batch)], [4, 4, 4, 4, 4]);
    model.dispose();
  });

  it('coupling sums to 1 over K inside the model: with one iteration, Σ_k s_k = Σ_i S e_i', () => {
    // With one iteration and no ReLU layer, v_k = squash(Σ_i c_ki S e_i) with c = softmax_k(b0):
    // summing s over k gives Σ_i S e_i, the same as routing every behaviour with weight 1.
    const model = make({ routingIterations: 1, reluLayer: false });
    const hist = [3, 8, 13];
    const v = embeddings(model, batchOf([hist], 20));
    const w = weightsOf(model);
    const table = w.get('item_embeddings')!;
    const sum = new Float64Array(DIM);
    for (const item of hist) {
      const u = vecMat(table.subarray(item * DIM, item * DIM + DIM), w.get('bilinear/kernel')!, DIM, DIM);
      for (let j = 0; j < DIM; j++) sum[j] += u[j];
    }
    // Undo the squash of each capsule and add the s_k up.
    const s = new Float64Array(DIM);
    for (let k = 0; k < 4; k++) {
      const vk = v.subarray(k * DIM, (k + 1) * DIM);
      const nv = Math.sqrt(vk.reduce((a, x) => a + x * x, 0));
      const ns = Math.sqrt(nv / (1 - nv)); // |v| = |s|²/(1+|s|²)
      for (let j = 0; j < DIM; j++) s[j] += (vk[j] / nv) * ns;
    }
    assert.ok(maxAbsDiff(s, sum) < 1e-3, `${maxAbsDiff(s, sum)}`);
    model.dispose();
  });
});

describe('training readout', () => {
  it('hard readout trains only the interest closest to the target; soft readout trains all', () => {
    for (const readout of ['hard', 'soft'] as const) {
      const model = new ComiRecSA({ itemCount: ITEMS, embeddingDim: DIM, maxLen: MAXLEN, numInterests: K, seed: 3, readout });
      const batch = { ...batchOf([[1, 2, 3, 4]], MAXLEN), targets: Int32Array.of(9), users: Int32Array.of(0) };
      // Gradient of the loss with respect to the interests themselves.
      const v = model.userEmbeddings(batch);
      const target = tf.tidy(() => tf.slice(model.itemEmbeddings(), [9, 0], [1, DIM]));
      const scores = tf.tidy(() => tf.squeeze(tf.matMul(v, tf.expandDims(target, 2)), [2]).dataSync());
      const g = tf.grad((x: tf.Tensor) =>
        tf.sum(
          tf.mul(
            (model as unknown as { trainingUserVector(u: tf.Tensor3D, e: tf.Tensor2D): tf.Tensor2D }).trainingUserVector(
              x as tf.Tensor3D,
              target as tf.Tensor2D,
            ),
            tf.onesLike(target),
          ),
        ),
      )(v);
      const perInterest = (tf.sum(tf.abs(g), 2).arraySync() as number[][])[0];
      const best = [...scores].indexOf(Math.max(...scores));
      if (readout === 'hard') perInterest.forEach((x, k) => assert.equal(x > 0, k === best, `interest ${k}`));
      else assert.ok(perInterest.every((x) => x > 0));
      tf.dispose([v, target, g]);
      model.dispose();
    }
  });
});
