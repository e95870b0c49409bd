/**
 * GRU4Rec's session-parallel mini-batches: lane bookkeeping, resets exactly at session
 * boundaries, every event once per epoch, carried state = running each session alone, the
 * fused op's initial state and reset mask against TF.js ops, training and evaluation.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from '../../src/util/random.js';
import { SessionSet, sessionParallelSteps, type SessionStep } from '../../src/data/session-parallel.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { bprMax } from '../../src/losses/index.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { gruSequence } from '../../src/ops/gru-sequence.js';
import { AdagradMomentum, evaluateSessionParallel, trainSessionParallel } from '../../src/train/session-parallel.js';
import { embeddingLookup } from '../../src/ops/embedding.js';
import { batchOf, maxAbsDiff, setupBackend } from '../helpers.js';

before(setupBackend);

function vocab(n: number): ItemVocabulary {
  return ItemVocabulary.fromItems(Array.from({ length: n }, (_, i) => `i${i + 1}`));
}

function randomSessions(seed: number, count: number, items: number, maxLen = 9): SessionSet {
  const r = new Random(seed);
  const lists = Array.from({ length: count }, () => Array.from({ length: 1 + r.int(maxLen) }, () => 1 + r.int(items)));
  return new SessionSet(lists, vocab(items));
}

function allSteps(s: SessionSet, b: number): SessionStep[] {
  return [...sessionParallelSteps(s, b)];
}

describe('session-parallel batches', () => {
  it('cover every (input, target) pair exactly once per epoch, in session order within a lane', () => {
    const sessions = randomSessions(1, 57, 30);
    for (const b of [1, 4, 7, 100]) {
      const seen = new Set<string>();
      let pairs = 0;
      const lastPos = new Map<number, number>();
      for (const st of allSteps(sessions, b)) {
        assert.ok(st.size >= 1 && st.size <= b);
        for (let r = 0; r < st.size; r++) {
          const s = st.sessions[r];
          const p = st.positions[r];
          const seq = sessions.session(s);
          assert.equal(st.inputs[r], seq[p]);
          assert.equal(st.targets[r], seq[p + 1]);
          const key = `${s}:${p}`;
          assert.ok(!seen.has(key), `pair ${key} twice`);
          seen.add(key);
          assert.equal(lastPos.get(s) ?? -1, p - 1, `session ${s} skipped a position`);
          lastPos.set(s, p);
          pairs++;
        }
        if (st.size > 1) for (let r = 1; r < st.size; r++) assert.ok(st.lanes[r] > st.lanes[r - 1]);
      }
      assert.equal(pairs, sessions.pairs());
      let expected = 0;
      for (let i = 0; i < sessions.count; i++) expected += Math.max(0, sessions.length(i) - 1);
      assert.equal(pairs, expected);
    }
  });

  it('resets exactly the lanes whose session ended, at their first step of the new session', () => {
    const sessions = randomSessions(2, 40, 20);
    const laneSession = new Map<number, number>();
    for (const st of allSteps(sessions, 5)) {
      for (let r = 0; r < st.size; r++) {
        const lane = st.lanes[r];
        const changed = laneSession.get(lane) !== st.sessions[r];
        assert.equal(st.reset[r], changed ? 1 : 0, `lane ${lane} session ${st.sessions[r]} position ${st.positions[r]}`);
        assert.equal(st.reset[r] === 1, st.positions[r] === 0);
        laneSession.set(lane, st.sessions[r]);
      }
    }
  });

  it('skips sessions shorter than 2 and drops lanes when sessions run out (no early end)', () => {
    const sessions = new SessionSet([[1], [2, 3, 4, 5, 6], [7, 8], [9]], vocab(9));
    const steps = allSteps(sessions, 3);
    assert.deepEqual(
      steps.map((s) => s.size),
      [2, 1, 1, 1],
    );
    assert.deepEqual([...steps[0].sessions], [1, 2]);
    assert.equal(
      steps.reduce((a, s) => a + s.size, 0),
      sessions.pairs(),
    );
  });
});

describe('fused GRU op: initial state and reset mask', () => {
  it('matches TF.js ops in value and in every gradient, the initial state included', () => {
    const b = 4;
    const l = 3;
    const h = 5;
    const r = new Random(3);
    const rnd = (shape: number[]) =>
      tf.tensor(
        Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, () => r.normal() * 0.5),
        shape,
      );
    const x = rnd([b, l, 3 * h]) as tf.Tensor3D;
    const wh = rnd([h, 3 * h]) as tf.Tensor2D;
    const bh = rnd([3 * h]) as tf.Tensor1D;
    const h0 = rnd([b, h]) as tf.Tensor2D;
    const mask = tf.tensor2d([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0], [b, l]);
    const reset = tf.tensor2d([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1], [b, l]);
    const weights = rnd([b, l, h]);
    const fused = (xx: tf.Tensor, w: tf.Tensor, bb: tf.Tensor, s0: tf.Tensor) =>
      tf.sum(tf.mul(gruSequence(xx as tf.Tensor3D, mask, w as tf.Tensor2D, bb as tf.Tensor1D, { initialState: s0 as tf.Tensor2D, reset }), weights));
    const ops = (xx: tf.Tensor, w: tf.Tensor, bb: tf.Tensor, s0: tf.Tensor) => {
      let state = s0;
      const outs: tf.Tensor[] = [];
      const steps = tf.unstack(xx, 1);
      const rs = tf.unstack(reset, 1);
      const ms = tf.unstack(mask, 1);
      for (let t = 0; t < l; t++) {
        state = tf.mul(state, tf.sub(1, tf.expandDims(rs[t], 1)));
        const hp = tf.add(tf.matMul(state, w), bb);
        const [xr, xz, xn] = tf.split(steps[t], 3, 1);
        const [hr, hz, hn] = tf.split(hp, 3, 1);
        const rr = tf.sigmoid(tf.add(xr, hr));
        const z = tf.sigmoid(tf.add(xz, hz));
        const n = tf.tanh(tf.add(xn, tf.mul(rr, hn)));
        const cand = tf.add(n, tf.mul(z, tf.sub(state, n)));
        state = tf.add(state, tf.mul(tf.expandDims(ms[t], 1), tf.sub(cand, state)));
        outs.push(state);
      }
      return tf.sum(tf.mul(tf.stack(outs, 1), weights));
    };
    const a = tf.valueAndGrads(fused)([x, wh, bh, h0]);
    const c = tf.valueAndGrads(ops)([x, wh, bh, h0]);
    assert.ok(Math.abs(a.value.dataSync()[0] - c.value.dataSync()[0]) < 1e-4);
    a.grads.forEach((g, i) =>
      assert.ok(maxAbsDiff(g.dataSync(), c.grads[i].dataSync()) < 1e-4, `gradient ${i}: ${maxAbsDiff(g.dataSync(), c.grads[i].dataSync())}`),
    );
    // Without options the op still starts from zero (the padded-window API is unchanged).
    const zero = gruSequence(x, mask, wh, bh);
    const explicit = gruSequence(x, mask, wh, bh, { initialState: tf.zeros([b, h]) as tf.Tensor2D });
    assert.ok(maxAbsDiff(zero.dataSync(), explicit.dataSync()) < 1e-6);
  });
});

describe('session-parallel GRU4Rec', () => {
  for (const cfg of [
    { numLayers: 1, recurrence: 'fused' as const },
    { numLayers: 2, recurrence: 'fused' as const, hiddenDim: 7 },
    { numLayers: 2, recurrence: 'ops' as const, hiddenDim: 7 },
  ]) {
    it(`carried lane states give the same user vectors as running each session alone (${cfg.numLayers} layer(s), ${cfg.recurrence})`, () => {
      const items = 25;
      const sessions = randomSessions(4, 23, items, 8);
      const model = new GRU4Rec({ itemCount: items + 1, embeddingDim: 6, maxLen: 8, seed: 9, ...cfg });
      const sizes = model.stateSizes();
      const store = sizes.map((h) => new Float32Array(4 * h));
      let checked = 0;
      for (const st of sessionParallelSteps(sessions, 4)) {
        const init = sizes.map((h, l) => {
          const a = new Float32Array(st.size * h);
          for (let r = 0; r < st.size; r++) a.set(store[l].subarray(st.lanes[r] * h, st.lanes[r] * h + h), r * h);
          // Stale values in reset lanes must not leak: fill them with garbage.
          for (let r = 0; r < st.size; r++) if (st.reset[r]) a.fill(123, r * h, r * h + h);
          return tf.tensor2d(a, [st.size, h]);
        });
        const out = model.sessionStep(st.inputs, init, st.reset);
        out.states.forEach((s, l) => {
          const v = s.dataSync();
          for (let r = 0; r < st.size; r++) store[l].set(v.subarray(r * sizes[l], (r + 1) * sizes[l]), st.lanes[r] * sizes[l]);
        });
        const got = out.user.dataSync() as Float32Array;
        const prefixes = Array.from({ length: st.size }, (_, r) => [...sessions.session(st.sessions[r]).subarray(0, st.positions[r] + 1)]);
        const alone = model.userEmbeddings(batchOf(prefixes, 8));
        assert.ok(maxAbsDiff(got, alone.dataSync()) < 1e-5, `step with sessions ${[...st.sessions]}`);
        checked += st.size;
        tf.dispose([...init, ...out.states, out.user, alone]);
      }
      assert.equal(checked, sessions.pairs());
      model.dispose();
    });
  }

  it('trains with BPR-max and learns a planted next-item rule; evaluation resets lanes too', async () => {
    const items = 30;
    const r = new Random(5);
    // Sessions follow i -> i+1 (mod items), variable lengths.
    const mk = (count: number) =>
      new SessionSet(
        Array.from({ length: count }, () => {
          const start = r.int(items);
          return Array.from({ length: 2 + r.int(6) }, (_, k) => ((start + k) % items) + 1);
        }),
        vocab(items),
      );
    const train = mk(300);
    const test = mk(40);
    const model = new GRU4Rec({ itemCount: items + 1, embeddingDim: 16, maxLen: 8, seed: 2 });
    const before = evaluateSessionParallel(model, test, { cutoffs: [1, 5] });
    const tensorsBefore = tf.memory().numTensors;
    const result = await trainSessionParallel(model, train, {
      loss: bprMax({ inBatch: true, numNegatives: 16, sampler: 'uniform', bpreg: 0.5 }),
      batchSize: 16,
      epochs: 4,
      learningRate: 0.02,
      evaluation: { sessions: test, cutoffs: [1, 5] },
    });
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked');
    assert.equal(result.history.length, 4);
    for (const h of result.history) assert.equal(h.events, train.pairs());
    const after = result.history[3].eval!;
    assert.equal(after.events, test.pairs());
    assert.ok(after['recall@1'] > 0.8, `recall@1 ${after['recall@1']} (before ${before['recall@1']})`);
    assert.ok(after['mrr@5'] >= after['recall@1'] - 1e-12);
    assert.ok(result.history[3].loss < result.history[0].loss);
    // Adagrad with momentum (the official update) also trains.
    const m2 = new GRU4Rec({ itemCount: items + 1, embeddingDim: 16, maxLen: 8, seed: 2 });
    const r2 = await trainSessionParallel(m2, train, { loss: 'top1-max', optimizer: 'adagrad', momentum: 0.3, learningRate: 0.05, batchSize: 16, epochs: 2 });
    assert.ok(r2.history[1].loss < r2.history[0].loss);
    model.dispose();
    m2.dispose();
  });

  it('evaluateSessionParallel equals ranking every prefix alone (lane states carried and reset correctly)', () => {
    const items = 40;
    const sessions = randomSessions(8, 31, items, 7);
    const model = new GRU4Rec({ itemCount: items + 1, embeddingDim: 6, maxLen: 8, seed: 4, numLayers: 2 });
    const got = evaluateSessionParallel(model, sessions, { cutoffs: [3, 10], batchSize: 3 });
    const table = model.itemEmbeddings().arraySync() as number[][];
    let hits3 = 0;
    let rr10 = 0;
    let events = 0;
    for (let s = 0; s < sessions.count; s++) {
      const seq = [...sessions.session(s)];
      for (let p = 0; p + 1 < seq.length; p++) {
        const u = model.userEmbeddings(batchOf([seq.slice(0, p + 1)], 8));
        const v = [...u.dataSync()];
        u.dispose();
        const score = (j: number) => table[j].reduce((a, x, i) => a + x * v[i], 0);
        const t = score(seq[p + 1]);
        let rank = 1;
        for (let j = 1; j <= items; j++) if (score(j) > t) rank++;
        if (rank <= 3) hits3++;
        if (rank <= 10) rr10 += 1 / rank;
        events++;
      }
    }
    assert.equal(got.events, events);
    assert.ok(Math.abs(got['recall@3'] - hits3 / events) < 1e-9, `${got['recall@3']} vs ${hits3 / events}`);
    assert.ok(Math.abs(got['mrr@10'] - rr10 / events) < 1e-6);
    model.dispose();
  });

  it('tie handling: standard, conservative, median', () => {
    const items = 30;
    const model = new GRU4Rec({ itemCount: items + 1, embeddingDim: 4, maxLen: 4, seed: 1 });
    // All item embeddings zero: every score ties at 0.
    const w = new Map(model.namedWeights().map(({ name, variable }) => [name, { shape: variable.shape, data: (variable.dataSync() as Float32Array).slice() }]));
    w.get('item_embeddings')!.data.fill(0);
    model.setNamedWeights(w);
    const sessions = new SessionSet([[1, 2, 3]], vocab(items));
    const std = evaluateSessionParallel(model, sessions, { cutoffs: [1, 30] });
    assert.equal(std['recall@1'], 1);
    assert.equal(std['mrr@1'], 1);
    const cons = evaluateSessionParallel(model, sessions, { cutoffs: [1, 30], ties: 'conservative' });
    assert.equal(cons['recall@1'], 0);
    assert.ok(Math.abs(cons['mrr@30'] - 1 / 30) < 1e-12); // rank = all 30 items
    const med = evaluateSessionParallel(model, sessions, { cutoffs: [30], ties: 'median' });
    assert.ok(Math.abs(med['mrr@30'] - 1 / 15.5) < 1e-12);
    model.dispose();
  });
});

describe("the official GRU4Rec's Adagrad + momentum", () => {
  it('follows acc += g², v = μv − lr·g/√(acc+ε), θ += v; the item table only where a row has a gradient', () => {
    const lr = 0.1;
    const mu = 0.5;
    const table = tf.variable(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
    const w = tf.variable(tf.tensor1d([0.5, -1]));
    const opt = new AdagradMomentum(lr, mu, table);
    // Step 1 touches rows 0 and 2, step 2 only row 1: row 0 and 2 must then stay put (sparse),
    // while the dense weight w keeps moving with its momentum.
    const loss = (rows: number[]) => () => tf.sum(tf.mul(embeddingLookup(table, tf.tensor1d(rows, 'int32')), w)) as tf.Scalar;
    const ref = { t: [1, 2, 3, 4, 5, 6], ta: new Array(6).fill(0), tm: new Array(6).fill(0), w: [0.5, -1], wa: [0, 0], wm: [0, 0] };
    const refStep = (rows: number[]) => {
      const gw = [0, 0];
      const gt = new Array(6).fill(0);
      for (const r of rows)
        for (let d = 0; d < 2; d++) {
          gt[r * 2 + d] += ref.w[d];
          gw[d] += ref.t[r * 2 + d];
        }
      for (let i = 0; i < 6; i++) {
        if (gt[(i >> 1) * 2] === 0 && gt[(i >> 1) * 2 + 1] === 0) continue; // untouched row
        ref.ta[i] += gt[i] ** 2;
        ref.tm[i] = mu * ref.tm[i] - (lr * gt[i]) / Math.sqrt(ref.ta[i] + 1e-6);
        ref.t[i] += ref.tm[i];
      }
      for (let d = 0; d < 2; d++) {
        ref.wa[d] += gw[d] ** 2;
        ref.wm[d] = mu * ref.wm[d] - (lr * gw[d]) / Math.sqrt(ref.wa[d] + 1e-6);
        ref.w[d] += ref.wm[d];
      }
    };
    for (const rows of [[0, 2], [1], [1]]) {
      opt.minimize(loss(rows), true, [table, w]).dispose();
      refStep(rows);
      assert.ok(maxAbsDiff(table.dataSync(), ref.t) < 1e-5, `table ${[...table.dataSync()]} vs ${ref.t}`);
      assert.ok(maxAbsDiff(w.dataSync(), ref.w) < 1e-5);
    }
    opt.dispose();
    tf.dispose([table, w]);
  });
});
