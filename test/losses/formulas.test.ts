/**
 * Every loss against its formula computed by hand (plain float64 JavaScript) on tiny score
 * matrices, gradients of BPR-max and TOP1-max against finite differences of that formula.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { bprFromScores, bprMaxFromScores, sampledSoftmaxFromScores, top1FromScores, top1MaxFromScores } from '../../src/losses/index.js';
import { maskedSoftmaxRows } from '../../src/ops/masked-softmax.js';
import { eluAlpha } from '../../src/losses/pairwise-max.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

// Two rows, three negative columns; row 1's column 2 is excluded (an accidental hit).
const POS = [1.5, -0.3];
const NEG = [
  [0.2, -1.0, 0.7],
  [0.4, 2.0, 0.1],
];
const VALID = [
  [1, 1, 1],
  [1, 0, 1],
];
const validArray = Float32Array.from(VALID.flat());

function scores(pos = POS, neg = NEG) {
  return { positive: tf.tensor1d(pos), negatives: tf.tensor2d(neg), valid: validArray };
}

function usable(b: number): number[] {
  return NEG[b].map((_, j) => j).filter((j) => VALID[b][j] > 0);
}

// ---- the formulas, by hand ----
function refSampledSoftmax(pos: number[], neg: number[][], lqPos: number[], lqNeg: number[]): number {
  let total = 0;
  pos.forEach((p, b) => {
    const o = p - lqPos[b];
    let z = Math.exp(o);
    for (const j of usable(b)) z += Math.exp(neg[b][j] - lqNeg[j]);
    total += Math.log(z) - o;
  });
  return total / pos.length;
}
function refBpr(pos: number[], neg: number[][]): number {
  return pos.reduce((s, p, b) => s - usable(b).reduce((t, j) => t + Math.log(sig(p - neg[b][j])), 0) / usable(b).length, 0) / pos.length;
}
function refTop1(pos: number[], neg: number[][]): number {
  return pos.reduce((s, p, b) => s + usable(b).reduce((t, j) => t + sig(neg[b][j] - p) + sig(neg[b][j] ** 2), 0) / usable(b).length, 0) / pos.length;
}
const eluRef = (x: number, a: number) => (a > 0 ? (x >= 0 ? x : a * (Math.exp(x) - 1)) : x);
function softNeg(neg: number[], js: number[]): number[] {
  const m = Math.max(...js.map((j) => neg[j]));
  const e = js.map((j) => Math.exp(neg[j] - m));
  const z = e.reduce((a, c) => a + c, 0);
  return e.map((v) => v / z);
}
function refBprMax(pos: number[], neg: number[][], bpreg: number, elu = 0): number {
  let total = 0;
  pos.forEach((p0, b) => {
    const p = eluRef(p0, elu);
    const r = neg[b].map((x) => eluRef(x, elu));
    const js = usable(b);
    const s = softNeg(r, js);
    const pair = js.reduce((t, j, k) => t + s[k] * sig(p - r[j]), 0);
    const reg = js.reduce((t, j, k) => t + s[k] * r[j] ** 2, 0);
    total += -Math.log(pair + 1e-24) + bpreg * reg;
  });
  return total / pos.length;
}
function refTop1Max(pos: number[], neg: number[][], elu = 0): number {
  let total = 0;
  pos.forEach((p0, b) => {
    const p = eluRef(p0, elu);
    const r = neg[b].map((x) => eluRef(x, elu));
    const js = usable(b);
    const s = softNeg(r, js);
    total += js.reduce((t, j, k) => t + s[k] * (sig(r[j] - p) + sig(r[j] ** 2)), 0);
  });
  return total / pos.length;
}

function value(t: tf.Scalar): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

describe('loss formulas on a tiny score matrix', () => {
  it('sampled softmax: −o_t + log(e^{o_t} + Σ_usable e^{o_j}), o = r − logQ', () => {
    const lqPos = [0.3, -0.2];
    const lqNeg = [0.1, 0.5, -0.4];
    const got = value(sampledSoftmaxFromScores({ ...scores(), logQPositive: Float32Array.from(lqPos), logQNegatives: Float32Array.from(lqNeg) }));
    close(got, refSampledSoftmax(POS, NEG, lqPos, lqNeg));
    // Without logQ, a literal value computed by hand:
    // row 0: log(e^1.5 + e^0.2 + e^-1 + e^0.7) − 1.5 = 0.6041…; row 1: log(e^-0.3 + e^0.4 + e^0.1) − (−0.3) = 1.3784…
    const plain = value(sampledSoftmaxFromScores(scores()));
    close(plain, refSampledSoftmax(POS, NEG, [0, 0], [0, 0, 0]));
    close(
      plain,
      (Math.log(Math.exp(1.5) + Math.exp(0.2) + Math.exp(-1) + Math.exp(0.7)) - 1.5 + Math.log(Math.exp(-0.3) + Math.exp(0.4) + Math.exp(0.1)) + 0.3) / 2,
    );
  });

  it('BPR: −mean_j log σ(r_t − r_j) over usable negatives', () => {
    close(value(bprFromScores(scores())), refBpr(POS, NEG));
  });

  it('TOP1: mean_j σ(r_j − r_t) + σ(r_j²) over usable negatives', () => {
    close(value(top1FromScores(scores())), refTop1(POS, NEG));
  });

  it('BPR-max: −log Σ s_j σ(r_t − r_j) + bpreg Σ s_j r_j², s = softmax over usable negatives', () => {
    for (const bpreg of [0, 1, 0.9]) close(value(bprMaxFromScores(scores(), { bpreg })), refBprMax(POS, NEG, bpreg));
    close(value(bprMaxFromScores(scores(), { bpreg: 0.5, elu: 1 })), refBprMax(POS, NEG, 0.5, 1));
    close(value(bprMaxFromScores(scores(), { bpreg: 0.5, elu: 0.5 })), refBprMax(POS, NEG, 0.5, 0.5));
  });

  it('TOP1-max: Σ s_j [σ(r_j − r_t) + σ(r_j²)]', () => {
    close(value(top1MaxFromScores(scores())), refTop1Max(POS, NEG));
    close(value(top1MaxFromScores(scores(), { elu: 1 })), refTop1Max(POS, NEG, 1));
  });

  it('excluded columns change neither the value nor get a gradient', () => {
    const moved = NEG.map((r) => r.slice());
    moved[1][1] = -7; // the excluded column
    const fns = [
      sampledSoftmaxFromScores,
      bprFromScores,
      top1FromScores,
      (s: Parameters<typeof bprMaxFromScores>[0]) => bprMaxFromScores(s, { bpreg: 1 }),
      top1MaxFromScores,
    ];
    for (const f of fns) {
      close(value(f(scores(POS, moved))), value(f(scores())));
      const g = tf.grad((n: tf.Tensor) => f({ positive: tf.tensor1d(POS), negatives: n as tf.Tensor2D, valid: validArray }))(tf.tensor2d(NEG));
      assert.equal(g.dataSync()[4], 0);
      g.dispose();
    }
  });

  it('rows without usable negatives contribute 0', () => {
    const none = Float32Array.from([1, 1, 1, 0, 0, 0]);
    const s = () => ({ positive: tf.tensor1d(POS), negatives: tf.tensor2d(NEG), valid: none });
    const row0 = { positive: tf.tensor1d([POS[0]]), negatives: tf.tensor2d([NEG[0]]), valid: null };
    close(value(bprMaxFromScores(s(), { bpreg: 1 })), value(bprMaxFromScores(row0, { bpreg: 1 })) / 2);
    close(value(top1MaxFromScores(s())), value(top1MaxFromScores(row0)) / 2);
    close(value(bprFromScores(s())), value(bprFromScores(row0)) / 2);
    close(value(top1FromScores(s())), value(top1FromScores(row0)) / 2);
    close(value(sampledSoftmaxFromScores(s())), value(sampledSoftmaxFromScores(row0)) / 2);
  });

  it('no double softmax: BPR-max weights come from the negatives only', () => {
    // If the positive took part in the softmax, a huge positive score would drive every
    // negative's weight (and with it the regulariser) to 0. Over negatives only, the
    // pairwise part goes to 0 and the regulariser stays bpreg · Σ softmax_neg · r².
    const big = [60, 60];
    const got = value(bprMaxFromScores(scores(big, NEG), { bpreg: 1 }));
    const reg =
      [0, 1].reduce((t, b) => {
        const js = usable(b);
        const s = softNeg(NEG[b], js);
        return t + js.reduce((u, j, k) => u + s[k] * NEG[b][j] ** 2, 0);
      }, 0) / 2;
    close(got, reg, 1e-4);
    assert.ok(reg > 0.1);
    // And the weights themselves are exactly softmax over the usable negatives.
    const w = maskedSoftmaxRows(tf.tensor2d(NEG), validArray).arraySync() as number[][];
    [0, 1].forEach((b) => {
      const s = softNeg(NEG[b], usable(b));
      usable(b).forEach((j, k) => close(w[b][j], s[k]));
      assert.equal(w[1][1], 0);
    });
  });

  it('eluAlpha matches its definition and stays finite for large inputs', () => {
    const x = [-100, -2, -0.5, 0, 0.5, 100];
    const got = eluAlpha(tf.tensor1d(x), 0.7).dataSync();
    x.forEach((v, i) => close(got[i], eluRef(v, 0.7)));
    const g = tf
      .grad((t: tf.Tensor) => tf.sum(eluAlpha(t, 0.7)))(tf.tensor1d(x))
      .dataSync();
    assert.ok([...g].every(Number.isFinite));
  });
});

describe('finite-difference gradients', () => {
  // Analytic gradients of the TF.js implementation vs central differences of the float64 formula.
  const cases: { name: string; tfLoss: (p: tf.Tensor, n: tf.Tensor) => tf.Scalar; ref: (p: number[], n: number[][]) => number }[] = [
    {
      name: 'BPR-max (bpreg 0.9)',
      tfLoss: (p, n) => bprMaxFromScores({ positive: p as tf.Tensor1D, negatives: n as tf.Tensor2D, valid: validArray }, { bpreg: 0.9 }),
      ref: (p, n) => refBprMax(p, n, 0.9),
    },
    {
      name: 'BPR-max (bpreg 1, elu 1)',
      tfLoss: (p, n) => bprMaxFromScores({ positive: p as tf.Tensor1D, negatives: n as tf.Tensor2D, valid: validArray }, { bpreg: 1, elu: 1 }),
      ref: (p, n) => refBprMax(p, n, 1, 1),
    },
    {
      name: 'TOP1-max',
      tfLoss: (p, n) => top1MaxFromScores({ positive: p as tf.Tensor1D, negatives: n as tf.Tensor2D, valid: validArray }),
      ref: (p, n) => refTop1Max(p, n),
    },
    {
      name: 'TOP1-max (elu 0.5)',
      tfLoss: (p, n) => top1MaxFromScores({ positive: p as tf.Tensor1D, negatives: n as tf.Tensor2D, valid: validArray }, { elu: 0.5 }),
      ref: (p, n) => refTop1Max(p, n, 0.5),
    },
  ];
  for (const c of cases) {
    it(`${c.name}: d/d(positive) and d/d(negatives) match central differences`, () => {
      // Scores away from ELU's kink at 0.
      const pos = [1.1, -0.4];
      const neg = [
        [0.3, -0.9, 0.8],
        [0.45, 1.7, -0.2],
      ];
      const [gp, gn] = tf.grads((p: tf.Tensor, n: tf.Tensor) => c.tfLoss(p, n))([tf.tensor1d(pos), tf.tensor2d(neg)]);
      const gotP = gp.dataSync();
      const gotN = gn.dataSync();
      close(value(c.tfLoss(tf.tensor1d(pos), tf.tensor2d(neg))), c.ref(pos, neg));
      const h = 1e-5;
      pos.forEach((_, b) => {
        const up = pos.slice();
        const dn = pos.slice();
        up[b] += h;
        dn[b] -= h;
        close(gotP[b], (c.ref(up, neg) - c.ref(dn, neg)) / (2 * h), 1e-3);
      });
      neg.forEach((row, b) =>
        row.forEach((_, j) => {
          const up = neg.map((r) => r.slice());
          const dn = neg.map((r) => r.slice());
          up[b][j] += h;
          dn[b][j] -= h;
          close(gotN[b * 3 + j], (c.ref(pos, up) - c.ref(pos, dn)) / (2 * h), 1e-3);
        }),
      );
      tf.dispose([gp, gn]);
    });
  }
});
