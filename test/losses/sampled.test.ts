/**
 * Sampled losses on real LossInputs: equivalence with the full softmax, the logQ formula,
 * accidental hits, in-batch columns, the ComiRec preset and the registry.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/util/random.js';
import {
  buildCandidates,
  comirecSampledSoftmax,
  createLoss,
  inBatchSoftmax,
  isContextualLoss,
  logUniformSampler,
  lossFromSettings,
  LOSSES,
  LOSS_NAMES,
  planNegatives,
  popularitySampler,
  resolveLoss,
  sampledSoftmax,
  sampledSoftmaxFromScores,
  sampleUnique,
  softmaxCrossEntropy,
  uniformSampler,
  type LossFunction,
  type LossInput,
} from '../../src/losses/index.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { embeddingLookup } from '../../src/ops/embedding.js';
import { maxAbsDiff, randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

/** Runs `f` in a TF.js scope (its tensors are freed) and returns its plain-data result. */
function inScope<T>(f: () => T): T {
  let out: T | undefined;
  tf.tidy(() => {
    out = f();
  });
  return out as T;
}

const N = 13; // item rows incl. padding
const D = 5;

function makeInput(seed: number, targets: number[], rng = new Random(seed + 100)): { input: LossInput; vars: tf.Variable[] } {
  const r = new Random(seed);
  const b = targets.length;
  const user = tf.variable(
    tf.tensor2d(
      Float32Array.from({ length: b * D }, () => r.normal()),
      [b, D],
    ),
  );
  const itemsData = Float32Array.from({ length: N * D }, () => r.normal() * 0.7);
  itemsData.fill(0, 0, D);
  const items = tf.variable(tf.tensor2d(itemsData, [N, D]));
  const targetIds = Int32Array.from(targets);
  const input: LossInput = {
    user,
    items,
    targets: tf.tensor1d(targetIds, 'int32'),
    targetIds,
    targetEmbeddings: embeddingLookup(items as tf.Tensor2D, tf.tensor1d(targetIds, 'int32')) as tf.Tensor2D,
    rng,
  };
  return { input, vars: [user, items] };
}

function lossAndGrads(fn: LossFunction, seed: number, targets: number[], rngSeed = 5): { loss: number; grads: Float32Array[] } {
  const r = new Random(seed);
  const b = targets.length;
  const userData = Float32Array.from({ length: b * D }, () => r.normal());
  const itemsData = Float32Array.from({ length: N * D }, () => r.normal() * 0.7);
  itemsData.fill(0, 0, D);
  const user = tf.tensor2d(userData, [b, D]);
  const items = tf.tensor2d(itemsData, [N, D]);
  const targetIds = Int32Array.from(targets);
  const rng = new Random(rngSeed);
  const f = (u: tf.Tensor, it: tf.Tensor) =>
    fn({
      user: u as tf.Tensor2D,
      items: it as tf.Tensor2D,
      targets: tf.tensor1d(targetIds, 'int32'),
      targetIds,
      targetEmbeddings: embeddingLookup(it as tf.Tensor2D, tf.tensor1d(targetIds, 'int32')) as tf.Tensor2D,
      rng,
    });
  const { value, grads } = tf.valueAndGrads(f)([user, items]);
  const out = { loss: value.dataSync()[0], grads: grads.map((g) => g.dataSync() as Float32Array) };
  tf.dispose([value, ...grads, user, items]);
  return out;
}

describe('sampled softmax', () => {
  it('from scores: the formula by hand, an excluded column left out, and its gradient by finite differences', () => {
    const pos = [0.5, -0.3];
    const neg = [1.0, -2.0, 0.25, 0.7, 0.1, -0.6];
    const valid = Float32Array.from([1, 1, 0, 1, 1, 1]); // row 0's third column is an accidental hit
    const logQNegatives = Float32Array.from([0.2, -0.1, 0.4]);
    const logQPositive = Float32Array.from([0.3, -0.2]);
    const loss = (p: tf.Tensor, n: tf.Tensor) =>
      sampledSoftmaxFromScores({ positive: p as tf.Tensor1D, negatives: n as tf.Tensor2D, valid, logQNegatives, logQPositive });
    const value = (p: number[], n: number[]) => loss(tf.tensor1d(p), tf.tensor2d(n, [2, 3])).dataSync()[0];
    // By hand: o = r − logQ; row loss = −o_t + log(exp(o_t) + Σ_usable exp(o_j)); mean over rows.
    const row = (b: number, p: number[], n: number[]) => {
      const ot = p[b] - logQPositive[b];
      let z = Math.exp(ot);
      for (let k = 0; k < 3; k++) if (valid[b * 3 + k] > 0) z += Math.exp(n[b * 3 + k] - logQNegatives[k]);
      return -ot + Math.log(z);
    };
    const byHand = (p: number[], n: number[]) => (row(0, p, n) + row(1, p, n)) / 2;
    assert.ok(Math.abs(value(pos, neg) - byHand(pos, neg)) < 1e-6);
    const [gp, gn] = tf.grads(loss)([tf.tensor1d(pos), tf.tensor2d(neg, [2, 3])]);
    const h = 1e-3;
    const fd = (xs: number[], i: number, at: (v: number[]) => number) =>
      (at(xs.map((v, j) => (j === i ? v + h : v))) - at(xs.map((v, j) => (j === i ? v - h : v)))) / (2 * h);
    pos.forEach((_, i) => assert.ok(Math.abs(gp.dataSync()[i] - fd(pos, i, (p) => byHand(p, neg))) < 1e-3, `positive ${i}`));
    neg.forEach((_, i) => assert.ok(Math.abs(gn.dataSync()[i] - fd(neg, i, (n) => byHand(pos, n))) < 1e-3, `negative ${i}`));
    assert.equal(gn.dataSync()[2], 0, 'the excluded column gets no gradient');
    tf.dispose([gp, gn]);
  });

  it('with every item as a negative (uniform, unique) equals the full softmax, with and without logQ, in value and gradient', () => {
    const targets = [3, 7, 12, 3];
    const full = lossAndGrads(softmaxCrossEntropy, 1, targets);
    for (const logQ of [true, false]) {
      const fn = sampledSoftmax({ numNegatives: N - 1, sampler: uniformSampler(N), unique: true, logQ });
      const got = lossAndGrads(fn, 1, targets);
      assert.ok(Math.abs(got.loss - full.loss) < 1e-5, `logQ ${logQ}: ${got.loss} vs ${full.loss}`);
      assert.ok(maxAbsDiff(got.grads[0], full.grads[0]) < 1e-5);
      assert.ok(maxAbsDiff(got.grads[1], full.grads[1]) < 1e-5);
    }
  });

  it('logQ: every column, the positive included, minus log(M · Q(j)) (formula by hand)', () => {
    const counts = Float64Array.from({ length: N }, (_, i) => (i === 0 ? 0 : 20 - i));
    const sampler = popularitySampler(counts, 0.75);
    const m = 9;
    const targets = [2, 5, 11];
    const fn = sampledSoftmax({ numNegatives: m, sampler, logQ: true });
    const { input } = makeInput(4, targets, new Random(77));
    const got = fn(input).dataSync()[0];
    // Redraw the same negatives from the same stream and compute the loss by hand.
    const neg = sampler.sample(m, new Random(77));
    const u = input.user.arraySync() as number[][];
    const e = input.items.arraySync() as number[][];
    const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
    const lq = (id: number) => Math.log(m * sampler.probability(id));
    let total = 0;
    targets.forEach((t, b) => {
      const o = dot(u[b], e[t]) - lq(t);
      let z = Math.exp(o);
      for (const j of neg) if (j !== t) z += Math.exp(dot(u[b], e[j]) - lq(j));
      total += Math.log(z) - o;
    });
    assert.ok(Math.abs(got - total / targets.length) < 1e-5, `${got} vs ${total / targets.length}`);
    // The correction is not a no-op here (non-uniform Q).
    const plain = sampledSoftmax({ numNegatives: m, sampler, logQ: false })(makeInput(4, targets, new Random(77)).input).dataSync()[0];
    assert.ok(Math.abs(plain - got) > 1e-3);
  });

  it("sharing 'sequence': each sequence's own draws, logQ per column and accidental hits per row (by hand); one sequence is 'batch'", () => {
    const counts = Float64Array.from({ length: N }, (_, i) => (i === 0 ? 0 : 20 - i));
    const sampler = popularitySampler(counts, 0.75);
    const m = 6;
    // Rows 0-1 are sequence 0 (slots 1, 2 of a [2, 3] batch), row 2 is sequence 1 (slot 5).
    const targets = [2, 5, 11];
    const sequences = { batchSize: 2, maxLen: 3, positions: Int32Array.from([1, 2, 5]) };
    const fn = sampledSoftmax({ numNegatives: m, sampler, logQ: true, sharing: 'sequence' });
    const { input } = makeInput(6, targets, new Random(78));
    const got = fn({ ...input, sequences }).dataSync()[0];
    const neg = sampler.sample(2 * m, new Random(78));
    const u = input.user.arraySync() as number[][];
    const e = input.items.arraySync() as number[][];
    const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
    const lq = (id: number) => Math.log(m * sampler.probability(id));
    let total = 0;
    targets.forEach((t, r) => {
      const own = neg.slice(r < 2 ? 0 : m, r < 2 ? m : 2 * m);
      const o = dot(u[r], e[t]) - lq(t);
      let z = Math.exp(o);
      for (const j of own) if (j !== t) z += Math.exp(dot(u[r], e[j]) - lq(j));
      total += Math.log(z) - o;
    });
    assert.ok(Math.abs(got - total / 3) < 1e-5, `${got} vs ${total / 3}`);
    // All rows in one sequence: the batch's single draw, in value and gradient.
    const one = { batchSize: 1, maxLen: 3, positions: Int32Array.from([0, 1, 2]) };
    const shared = sampledSoftmax({ numNegatives: m, sampler, logQ: true });
    const bySequence = lossAndGrads((x) => fn({ ...x, sequences: one }), 8, targets, 9);
    const byBatch = lossAndGrads(shared, 8, targets, 9);
    assert.ok(Math.abs(bySequence.loss - byBatch.loss) < 1e-5);
    bySequence.grads.forEach((g, i) => assert.ok(maxAbsDiff(g, byBatch.grads[i]) < 1e-5));
    // Settings it cannot honour.
    assert.throws(() => sampledSoftmax({ numNegatives: 4, sampler, inBatch: true, sharing: 'sequence' })(input), /in-batch negatives are shared by the batch/);
    assert.throws(() => createLoss('sampled-softmax', { numNegatives: 4, sharing: 'row' }), /sharing 'row' is not offered; it takes 'batch' or 'sequence'/);
    assert.throws(() => createLoss('bpr', { sharing: 'sequence' }), /sharing 'sequence' is not offered/);
  });

  it('removes accidental hits (a negative equal to the row positive) and only those', () => {
    // A sampler that only ever draws item 4.
    const counts = new Float64Array(N);
    counts[4] = 1;
    const plan = planNegatives({ numNegatives: 3, sampler: popularitySampler(counts, 1) }, { itemCount: N }, 't');
    const { input } = makeInput(2, [4, 6]);
    const c = inScope(() => {
      const cand = buildCandidates(input, plan);
      return { valid: cand.valid, ids: cand.columnIds, shape: cand.negatives.shape };
    });
    assert.deepEqual([...c.ids], [4, 4, 4]);
    assert.deepEqual(c.shape, [2, 3]);
    assert.deepEqual([...c.valid!], [0, 0, 0, 1, 1, 1]);
    // Row 0 then has only its positive: loss 0.
    const only = sampledSoftmax({ numNegatives: 3, sampler: popularitySampler(counts, 1) })(makeInput(2, [4]).input).dataSync()[0];
    assert.ok(Math.abs(only) < 1e-6);
    // Without removal the hit stays a negative.
    const kept = planNegatives({ numNegatives: 3, sampler: popularitySampler(counts, 1), removeAccidentalHits: false }, { itemCount: N }, 't');
    assert.equal(
      inScope(() => buildCandidates(makeInput(2, [4, 6]).input, kept).valid),
      null,
    );
  });

  it('scores only the positive and the drawn columns (shapes), gathering M rows', () => {
    const plan = planNegatives({ numNegatives: 4, sampler: 'uniform' }, { itemCount: N }, 't');
    const { input } = makeInput(3, [1, 2, 3, 4, 5, 6]);
    const shapes = inScope(() => {
      const c = buildCandidates(input, plan);
      return [c.positive.shape, c.negatives.shape];
    });
    assert.deepEqual(shapes, [[6], [6, 4]]);
  });
});

describe('in-batch negatives', () => {
  it('uses the other rows targets, masks the own column and duplicates of the positive, logQ = log((B−1)·q + M·Q)', () => {
    const counts = Float64Array.from({ length: N }, (_, i) => (i === 0 ? 0 : i));
    const total = counts.reduce((a, b) => a + b, 0);
    const targets = [3, 8, 3, 10];
    const plan = planNegatives(
      { inBatch: true, numNegatives: 2, sampler: uniformSampler(N), logQ: true },
      { itemCount: N, itemPopularity: counts },
      'in-batch',
    );
    const { input } = makeInput(6, targets, new Random(9));
    const drawn = uniformSampler(N).sample(2, new Random(9));
    const c = inScope(() => {
      const x = buildCandidates(input, plan);
      return { ...x, negatives: x.negatives.arraySync() as number[][], positive: x.positive.arraySync() as number[] };
    });
    assert.deepEqual([...c.columnIds], [...targets, ...drawn]);
    const valid = [...c.valid!];
    const cols = c.columnIds.length;
    targets.forEach((t, b) => {
      for (let k = 0; k < cols; k++) {
        const want = k === b || c.columnIds[k] === t ? 0 : 1;
        assert.equal(valid[b * cols + k], want, `row ${b} column ${k}`);
      }
    });
    // In-batch columns are the targets' own embeddings: column k of row b = u_b · e_{t_k}.
    const u = input.user.arraySync() as number[][];
    const e = input.items.arraySync() as number[][];
    const dot = (a: number[], v: number[]) => a.reduce((s, x, i) => s + x * v[i], 0);
    assert.ok(Math.abs(c.negatives[0][1] - dot(u[0], e[8])) < 1e-5);
    assert.ok(Math.abs(c.positive[3] - dot(u[3], e[10])) < 1e-5);
    const expect = (id: number) => Math.log(3 * (counts[id] / total) + 2 / (N - 1));
    c.columnIds.forEach((id, k) => assert.ok(Math.abs(c.logQNegatives![k] - expect(id)) < 1e-5));
    targets.forEach((t, b) => assert.ok(Math.abs(c.logQPositive![b] - expect(t)) < 1e-5));
  });

  it('inBatchSoftmax needs the counts for logQ, not without it', () => {
    const targets = [1, 2, 3];
    assert.throws(() => inBatchSoftmax()(makeInput(1, targets).input), /item counts/);
    const v = inBatchSoftmax({ logQ: false })(makeInput(1, targets).input).dataSync()[0];
    assert.ok(Number.isFinite(v) && v > 0);
    const bound = inBatchSoftmax().withContext({ itemCount: N, itemPopularity: Float64Array.from({ length: N }, (_, i) => (i ? 1 : 0)) });
    // Uniform counts: the correction is a constant and changes nothing.
    assert.ok(Math.abs(bound(makeInput(1, targets).input).dataSync()[0] - v) < 1e-5);
  });
});

describe("ComiRec's sampled softmax preset", () => {
  it('draws 10 × B distinct log-uniform ids, subtracts log(1 − (1 − Q)^tries), removes accidental hits', () => {
    const n = 400;
    const b = 8;
    const r = new Random(3);
    const targetIds = Int32Array.from({ length: b }, () => 1 + r.int(30));
    const userData = Float32Array.from({ length: b * D }, () => r.normal());
    const itemsData = Float32Array.from({ length: n * D }, () => r.normal() * 0.3);
    const mk = (seed: number): LossInput => {
      const items = tf.tensor2d(itemsData, [n, D]);
      return {
        user: tf.tensor2d(userData, [b, D]),
        items,
        targets: tf.tensor1d(targetIds, 'int32'),
        targetIds,
        targetEmbeddings: embeddingLookup(items as tf.Tensor2D, tf.tensor1d(targetIds, 'int32')) as tf.Tensor2D,
        rng: new Random(seed),
      };
    };
    const got = comirecSampledSoftmax()(mk(11)).dataSync()[0];
    const sampler = logUniformSampler(n);
    const { ids, tries } = sampleUnique(sampler, 10 * b, new Random(11));
    assert.equal(new Set(ids).size, 80);
    const lq = (id: number) => Math.log(1 - Math.pow(1 - sampler.probability(id), tries));
    const dot = (bb: number, j: number) => userData.slice(bb * D, bb * D + D).reduce((s, v, i) => s + v * itemsData[j * D + i], 0);
    let total = 0;
    for (let bb = 0; bb < b; bb++) {
      const t = targetIds[bb];
      const o = dot(bb, t) - lq(t);
      let z = Math.exp(o);
      for (const j of ids) if (j !== t) z += Math.exp(dot(bb, j) - lq(j));
      total += Math.log(z) - o;
    }
    assert.ok(Math.abs(got - total / b) < 1e-4, `${got} vs ${total / b}`);
  });
});

describe('loss registry', () => {
  it('has every name, resolves names and functions, binds contextual losses', () => {
    assert.deepEqual(LOSS_NAMES, ['softmax', 'sampled-softmax', 'in-batch', 'bpr', 'top1', 'bpr-max', 'top1-max', 'comirec-sampled', 'bce', 'gbce']);
    assert.equal(resolveLoss('softmax'), softmaxCrossEntropy);
    const custom: LossFunction = () => tf.scalar(0);
    assert.equal(resolveLoss(custom), custom);
    assert.throws(() => resolveLoss('nope' as never), /Unknown loss 'nope'/);
    for (const name of LOSS_NAMES.filter((n) => n !== 'softmax')) assert.ok(isContextualLoss(LOSSES[name]), name);
    const counts = Float64Array.from({ length: N }, (_, i) => (i ? 1 + (i % 3) : 0));
    const bound = resolveLoss('bpr-max', { itemCount: N, itemPopularity: counts });
    assert.ok(!isContextualLoss(bound));
    const v = bound(makeInput(2, [1, 5, 9, 12]).input).dataSync()[0];
    assert.ok(Number.isFinite(v));
    // Unbound, a popularity-based default explains what it needs.
    assert.throws(() => LOSSES['bpr-max'](makeInput(2, [1, 5]).input), /item counts/);
  });

  it('maps the CLI settings (--negatives, --sampler, --alpha)', () => {
    const s = (name: string, o: object) => (lossFromSettings(name, o) as unknown as { settings: Record<string, unknown> }).settings;
    assert.deepEqual(s('sampled-softmax', { negatives: 50, sampler: 'uniform' }), { numNegatives: 50, sampler: 'uniform', logQ: true, inBatch: false });
    assert.deepEqual(s('bpr-max', { sampler: 'in-batch', negatives: 100, alpha: 0.3 }), {
      inBatch: true,
      numNegatives: 100,
      sampler: { kind: 'popularity', alpha: 0.3 },
      bpreg: 1,
      elu: 0,
    });
    assert.deepEqual(s('top1-max', { sampler: 'popularity', alpha: 0.5 }), {
      inBatch: false,
      numNegatives: 2048,
      sampler: { kind: 'popularity', alpha: 0.5 },
      elu: 0,
    });
    assert.deepEqual(s('comirec-sampled', { negatives: 5 }), {
      negativesPerRow: 5,
      sampler: 'log-uniform',
      unique: true,
      logQ: true,
      removeAccidentalHits: true,
    });
    assert.equal(lossFromSettings('softmax', {}), softmaxCrossEntropy);
    assert.throws(() => lossFromSettings('softmax', { negatives: 5 }), /takes no negative settings/);
    assert.throws(() => lossFromSettings('bpr', { sampler: 'zipf' }), /unknown sampler/);
    assert.throws(() => lossFromSettings('comirec-sampled', { sampler: 'uniform' }), /log-uniform/);
    assert.ok(createLoss('top1', { numNegatives: 3, sampler: 'uniform', inBatch: false }));
  });

  it('trains GRU4Rec through model.loss with every named loss without leaking tensors', () => {
    const model = new GRU4Rec({ itemCount: 40, embeddingDim: 8, maxLen: 5, seed: 1 });
    const counts = Float64Array.from({ length: 40 }, (_, i) => (i ? 40 - i : 0));
    const opt = tf.train.adam(0.01);
    const rng = new Random(2);
    for (const name of LOSS_NAMES) {
      const fn = resolveLoss(name, { itemCount: 40, itemPopularity: counts });
      const step = () => {
        const batch = randomTrainBatch(rng, 16, 5, 40);
        const c = opt.minimize(() => model.loss(batch, fn), true, model.trainableVariables());
        const v = c!.dataSync()[0];
        c!.dispose();
        return v;
      };
      step();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) assert.ok(Number.isFinite(step()), name);
      assert.equal(tf.memory().numTensors, before, `${name} leaks`);
    }
    opt.dispose();
    model.dispose();
  });
});

describe("logQ forms: 'expected-count' and the official GRU4Rec's 'gru4rec' (hand-computed)", () => {
  // 4 items + padding; counts 4, 1, 2, 8. Targets [1, 3]; in-batch + 3 popularity^0.5 draws.
  const counts = [0, 4, 1, 2, 8];
  const ctx = { itemCount: 5, itemPopularity: counts };
  const options = { inBatch: true, numNegatives: 3, sampler: { kind: 'popularity' as const, alpha: 0.5 }, logQ: true, removeAccidentalHits: false };
  function candidates(form: 'expected-count' | 'gru4rec') {
    const plan = planNegatives({ ...options, logQForm: form }, ctx, 'test');
    return inScope(() => {
      const items = tf.tensor2d([0, 0, 1, 0, 0, 1, 1, 1, -1, 0.5], [5, 2]);
      const targetIds = Int32Array.of(1, 3);
      const input: LossInput = {
        user: tf.tensor2d([1, 0, 0, 2], [2, 2]),
        items,
        targets: tf.tensor1d(targetIds, 'int32'),
        targetIds,
        targetEmbeddings: embeddingLookup(items, tf.tensor1d(targetIds, 'int32')) as tf.Tensor2D,
        rng: new Random(9),
      };
      const c = buildCandidates(input, plan);
      return { ids: [...c.columnIds], pos: [...c.logQPositive!], neg: [...c.logQNegatives!] };
    });
  }
  it("'gru4rec': log count on the positive and in-batch columns, α · log count on the drawn ones", () => {
    const c = candidates('gru4rec');
    assert.deepEqual(c.ids.slice(0, 2), [1, 3]);
    assert.ok(Math.abs(c.pos[0] - Math.log(4)) < 1e-6 && Math.abs(c.pos[1] - Math.log(2)) < 1e-6);
    assert.ok(Math.abs(c.neg[0] - Math.log(4)) < 1e-6 && Math.abs(c.neg[1] - Math.log(2)) < 1e-6);
    for (let k = 2; k < 5; k++) assert.ok(Math.abs(c.neg[k] - 0.5 * Math.log(counts[c.ids[k]])) < 1e-6, `column ${k} (item ${c.ids[k]})`);
  });
  it("'expected-count': log((B − 1) · count / Σ count + M · count^α / Σ count^α) on every column", () => {
    const c = candidates('expected-count');
    const sqrtSum = 2 + 1 + Math.SQRT2 + Math.sqrt(8);
    const e = (id: number) => Math.log((1 * counts[id]) / 15 + (3 * Math.sqrt(counts[id])) / sqrtSum);
    assert.ok(Math.abs(c.pos[0] - e(1)) < 1e-6 && Math.abs(c.pos[1] - e(3)) < 1e-6);
    c.ids.forEach((id, k) => assert.ok(Math.abs(c.neg[k] - e(id)) < 1e-6, `column ${k}`));
  });
  it("the 'gru4rec' loss value by hand", () => {
    // User rows u0 = (1, 0), u1 = (0, 2); item rows e1 = (1, 0), e2 = (0, 1), e3 = (1, 1), e4 = (-1, 0.5).
    const fn = sampledSoftmax({ ...options, logQForm: 'gru4rec' }).withContext(ctx);
    const drawn = candidates('gru4rec').ids.slice(2);
    const e = [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
      [-1, 0.5],
    ];
    const u = [
      [1, 0],
      [0, 2],
    ];
    const dot = (b: number, j: number) => u[b][0] * e[j][0] + u[b][1] * e[j][1];
    const t = [1, 3];
    let total = 0;
    for (let b = 0; b < 2; b++) {
      const o = dot(b, t[b]) - Math.log(counts[t[b]]);
      let z = Math.exp(o) + Math.exp(dot(b, t[1 - b]) - Math.log(counts[t[1 - b]])); // the other row's target
      for (const j of drawn) z += Math.exp(dot(b, j) - 0.5 * Math.log(counts[j]));
      total += Math.log(z) - o;
    }
    const got = inScope(() => {
      const items = tf.tensor2d(e.flat(), [5, 2]);
      const targetIds = Int32Array.from(t);
      return fn({
        user: tf.tensor2d(u.flat(), [2, 2]),
        items,
        targets: tf.tensor1d(targetIds, 'int32'),
        targetIds,
        targetEmbeddings: embeddingLookup(items, tf.tensor1d(targetIds, 'int32')) as tf.Tensor2D,
        rng: new Random(9),
      }).dataSync()[0];
    });
    assert.ok(Math.abs(got - total / 2) < 1e-5, `${got} vs ${total / 2}`);
  });
  it("'gru4rec' refuses samplers without a count^α form and unbound data", () => {
    assert.throws(() => planNegatives({ numNegatives: 3, sampler: 'log-uniform', logQ: true, logQForm: 'gru4rec' }, ctx, 'test'), /popularity or uniform/);
    assert.throws(() => planNegatives({ inBatch: true, logQ: true, logQForm: 'gru4rec' }, { itemCount: 5 }, 'test'), /item counts/);
    assert.throws(() => planNegatives({ inBatch: true, logQ: true, logQForm: 'nope' as never }, ctx, 'test'), /logQForm/);
  });
});
