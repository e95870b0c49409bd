/**
 * BCE and gSASRec's gBCE against their formulas by hand (float64 JavaScript), gBCE's limits
 * (t = 0 is BCE; β = α at t = 1), gradients against finite differences, option errors, and
 * both at every position of a SASRec batch.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { bce, binaryLossFromScores, createLoss, gbce, gbceBeta, lossFromSettings } from '../../src/losses/index.js';
import type { ContextualLoss, LossInput } from '../../src/losses/types.js';
import { SASRec } from '../../src/models/sasrec.js';
import { embeddingLookup } from '../../src/ops/embedding.js';
import { Random } from '../../src/util/random.js';
import { randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

const softplus = (x: number) => Math.log1p(Math.exp(x));
const logSigmoid = (x: number) => -softplus(-x);
const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe('binary cross-entropy from scores', () => {
  it('is ln 2 at zero scores, and −1/(k+1)·(β log σ(s⁺) + Σ log(1 − σ(s⁻))) in general', () => {
    close(binaryLossFromScores(tf.tensor1d([0]), tf.tensor2d([[0]]), null).dataSync()[0], Math.LN2);
    const pos = [2, -0.5];
    const neg = [
      [-1, 3],
      [0.25, 1.5],
    ];
    for (const beta of [1, 0.3]) {
      const want =
        pos.map((p, r) => -(beta * logSigmoid(p) + neg[r].reduce((s, n) => s + Math.log(1 - 1 / (1 + Math.exp(-n))), 0)) / 3).reduce((a, b) => a + b) / 2;
      close(binaryLossFromScores(tf.tensor1d(pos), tf.tensor2d(neg), null, beta).dataSync()[0], want);
    }
  });

  it('leaves unusable columns out of both the sum and the count', () => {
    const got = binaryLossFromScores(tf.tensor1d([1]), tf.tensor2d([[5, -2]]), Float32Array.from([0, 1])).dataSync()[0];
    close(got, (softplus(-1) + softplus(-2)) / 2);
  });

  it('has the gradient of its formula (finite differences in the scores)', () => {
    const pos = [0.7, -1.2];
    const neg = [0.3, -0.4, 1.1, 0.05];
    const f = (p: number[], n: number[]) => binaryLossFromScores(tf.tensor1d(p), tf.tensor2d(n, [2, 2]), null, 0.4).dataSync()[0];
    const [gp, gn] = tf.grads((a: tf.Tensor, b: tf.Tensor) => binaryLossFromScores(a as tf.Tensor1D, b as tf.Tensor2D, null, 0.4))([
      tf.tensor1d(pos),
      tf.tensor2d(neg, [2, 2]),
    ]);
    const h = 1e-3;
    pos.forEach((_, i) => {
      const up = pos.map((v, j) => (j === i ? v + h : v));
      const down = pos.map((v, j) => (j === i ? v - h : v));
      close(gp.dataSync()[i], (f(up, neg) - f(down, neg)) / (2 * h), 1e-3);
    });
    neg.forEach((_, i) => {
      const up = neg.map((v, j) => (j === i ? v + h : v));
      const down = neg.map((v, j) => (j === i ? v - h : v));
      close(gn.dataSync()[i], (f(pos, up) - f(pos, down)) / (2 * h), 1e-3);
    });
  });
});

describe('gBCE', () => {
  it('β is 1 at t = 0 (BCE) and α = k/(N − 1) at t = 1', () => {
    close(gbceBeta(256, 3416, 0), 1);
    close(gbceBeta(256, 3416, 1), 256 / 3415);
    close(gbceBeta(256, 3416, 0.75), (256 / 3415) * (0.75 * (1 - 3415 / 256) + 3415 / 256));
  });

  function input(seed: number): LossInput {
    const rng = new Random(seed);
    const items = tf.tensor2d(
      Float32Array.from({ length: 30 * 4 }, (_, i) => (i < 4 ? 0 : rng.normal())),
      [30, 4],
    );
    const targetIds = Int32Array.from([3, 17, 29]);
    const targets = tf.tensor1d(targetIds, 'int32');
    const user = tf.tensor2d(
      Float32Array.from({ length: 12 }, () => rng.normal()),
      [3, 4],
    );
    return { user, items, targets, targetIds, targetEmbeddings: tf.gather(items, targets) as tf.Tensor2D, rng: new Random(seed + 1) };
  }

  it('at t = 0 is BCE on the same negatives, and its loss is the paper form with σ(s⁺)^β', () => {
    for (const sharing of ['batch', 'row'] as const) {
      close(gbce({ numNegatives: 5, t: 0, sharing })(input(1)).dataSync()[0], bce({ numNegatives: 5, sharing })(input(1)).dataSync()[0]);
    }
    // Paper form by hand, with the negatives the loss draws (same seed: same draws).
    const x = input(2);
    const draw = new Random(3);
    const ids = Array.from({ length: 4 }, () => 1 + draw.int(29));
    const u = x.user.arraySync() as number[][];
    const e = x.items.arraySync() as number[][];
    const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
    const beta = gbceBeta(4, 29, 0.5);
    let want = 0;
    Array.from(x.targetIds).forEach((t, r) => {
      const negs = ids.filter((id) => id !== t);
      want +=
        -(Math.log(Math.pow(1 / (1 + Math.exp(-dot(u[r], e[t]))), beta)) + negs.reduce((s, id) => s + Math.log(1 - 1 / (1 + Math.exp(-dot(u[r], e[id])))), 0)) /
        (1 + negs.length);
    });
    close(gbce({ numNegatives: 4, t: 0.5, sharing: 'batch' })({ ...x, rng: new Random(3) }).dataSync()[0], want / 3);
  });

  it('per sequence: one row per sequence is per row; rows of one sequence share its draw', () => {
    // Three sequences of one position each (slots 0, 4, 8 of a [3, 4] batch): the same draws as per row.
    const one = { batchSize: 3, maxLen: 4, positions: Int32Array.from([0, 4, 8]) };
    close(
      gbce({ numNegatives: 6, sharing: 'sequence' })({ ...input(5), sequences: one }).dataSync()[0],
      gbce({ numNegatives: 6, sharing: 'row' })(input(5)).dataSync()[0],
    );
    // All three rows in one sequence: the same draw for all, i.e. 'batch'.
    const shared = { batchSize: 1, maxLen: 4, positions: Int32Array.from([0, 1, 2]) };
    close(
      gbce({ numNegatives: 6, sharing: 'sequence' })({ ...input(6), sequences: shared }).dataSync()[0],
      gbce({ numNegatives: 6, sharing: 'batch' })(input(6)).dataSync()[0],
    );
  });

  it("per row on a small catalogue scores the whole table, with the gathered form's value and gradients", () => {
    // 30 rows <= k·D = 8·4: the dense form (draw counts over an [R, N] score matrix). By hand:
    // the same draws gathered, scored row by row, through binaryLossFromScores.
    const k = 8;
    const x = input(7);
    const draw = new Random(8);
    const ids = Int32Array.from({ length: 3 * k }, () => 1 + draw.int(29));
    const valid = Float32Array.from(ids, (id, i) => (id === x.targetIds[Math.floor(i / k)] ? 0 : 1));
    const dense = (user: tf.Tensor, items: tf.Tensor) => {
      const targetEmbeddings = embeddingLookup(items as tf.Tensor2D, x.targets) as tf.Tensor2D;
      return gbce({ numNegatives: k, sharing: 'row' })({ ...x, user: user as tf.Tensor2D, items: items as tf.Tensor2D, targetEmbeddings, rng: new Random(8) });
    };
    const gathered = (user: tf.Tensor, items: tf.Tensor) => {
      const positive = tf.sum(tf.mul(user, embeddingLookup(items as tf.Tensor2D, x.targets)), 1) as tf.Tensor1D;
      const rows = embeddingLookup(items as tf.Tensor2D, tf.tensor1d(ids, 'int32'));
      const negatives = tf.sum(tf.mul(tf.expandDims(user, 1), tf.reshape(rows, [3, k, 4])), 2) as tf.Tensor2D;
      return binaryLossFromScores(positive, negatives, valid.includes(0) ? valid : null, gbceBeta(k, 29, 0.75));
    };
    close(dense(x.user, x.items).dataSync()[0], gathered(x.user, x.items).dataSync()[0]);
    const [du, di] = tf.grads(dense)([x.user, x.items]);
    const [gu, gi] = tf.grads(gathered)([x.user, x.items]);
    Array.from(gu.dataSync()).forEach((v, i) => close(du.dataSync()[i], v));
    Array.from(gi.dataSync()).forEach((v, i) => close(di.dataSync()[i], v));
  });

  it('refuses bad settings with the field named, and sampler flags it cannot honour', () => {
    assert.throws(() => gbce({ t: 1.5 }), /t must be in \[0, 1\]/);
    assert.throws(() => bce({ numNegatives: 0 }), /numNegatives must be a whole number >= 1/);
    assert.throws(() => lossFromSettings('gbce', { sampler: 'popularity' }), /draws its negatives uniformly/);
    assert.doesNotThrow(() => createLoss('gbce', { numNegatives: 64, t: 0.9 }));
    // Unset settings keep the defaults (the CLI passes undefined for flags not given).
    assert.equal((gbce({ numNegatives: undefined, t: undefined, sharing: undefined }) as ContextualLoss).settings.t, 0.75);
    assert.throws(() => gbce({ sharing: 'user' as never }), /sharing must be 'row', 'sequence' or 'batch'/);
    assert.equal((createLoss('gbce', { numNegatives: 8 }) as ContextualLoss).settings.t, 0.75);
  });
});

describe('sampled losses at every position', () => {
  it('SASRec trains with gBCE, BCE and sampled softmax at every position: finite, and lower after a few steps on a fixed batch', () => {
    for (const lossFn of [gbce({ numNegatives: 32 }), bce(), createLoss('sampled-softmax', { numNegatives: 32, sampler: 'uniform' })]) {
      const model = new SASRec({ itemCount: 60, embeddingDim: 16, maxLen: 8, dropout: 0, seed: 1 });
      const batch = randomTrainBatch(new Random(4), 16, 8, 60);
      const optimizer = tf.train.adam(0.01);
      const first = model.sequenceLoss(batch, lossFn);
      const start = first.dataSync()[0];
      first.dispose();
      for (let i = 0; i < 30; i++) optimizer.minimize(() => model.sequenceLoss(batch, lossFn), false, model.trainableVariables());
      const end = model.sequenceLoss(batch, lossFn);
      assert.ok(Number.isFinite(start) && end.dataSync()[0] < start * 0.8, `${start} -> ${end.dataSync()[0]}`);
      end.dispose();
      model.dispose();
      optimizer.dispose();
    }
  });
});
