/**
 * Dense Adam vs row-wise ("lazy") Adam on the item table with `comirec-sampled` (issue #15
 * item 2): ComiRec's TF1 AdamOptimizer is dense, so every row with a nonzero moment keeps
 * moving every step; seqrec's row-wise Adam moves only the rows a step touches.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Random } from '../../src/util/random.js';
import { resolveLoss } from '../../src/losses/index.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { AdamStep, resolveItemGradients } from '../../src/train/step.js';
import { randomTrainBatch, setupBackend } from '../helpers.js';

before(setupBackend);

const N = 2000; // many rows, few touched per step
const D = 4;

function changedRows(before: Float32Array, after: Float32Array): Set<number> {
  const rows = new Set<number>();
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) rows.add(Math.floor(i / D));
  return rows;
}

/** Rows changed by step 1 and by step 2 of one model under `mode`. */
function twoSteps(mode: 'dense' | 'sparse'): { step1: Set<number>; step2: Set<number> } {
  const model = new GRU4Rec({ itemCount: N, embeddingDim: D, maxLen: 3, seed: 4 });
  const loss = resolveLoss('comirec-sampled', { itemCount: N });
  const step = new AdamStep(model, loss, { learningRate: 0.01, itemGradients: mode });
  const rng = new Random(6);
  const snapshots = [(model.itemEmbeddings().dataSync() as Float32Array).slice()];
  for (let s = 0; s < 2; s++) {
    step.run(randomTrainBatch(rng, 2, 3, N));
    snapshots.push((model.itemEmbeddings().dataSync() as Float32Array).slice());
  }
  step.dispose();
  model.dispose();
  return { step1: changedRows(snapshots[0], snapshots[1]), step2: changedRows(snapshots[1], snapshots[2]) };
}

describe('comirec-sampled: dense and row-wise Adam on the item table', () => {
  it("both are selectable ('auto' picks dense Adam for ComiRec's loss, named or built)", () => {
    assert.equal(resolveItemGradients('auto', 'comirec-sampled'), 'dense');
    assert.equal(resolveItemGradients('auto', resolveLoss('comirec-sampled', { itemCount: N })), 'dense');
    assert.equal(resolveItemGradients('dense', 'comirec-sampled'), 'dense');
    assert.equal(resolveItemGradients('sparse', 'comirec-sampled'), 'sparse');
  });

  it('the first step moves the same rows in both modes (touched rows get the same update)', () => {
    const dense = twoSteps('dense');
    const sparse = twoSteps('sparse');
    assert.deepEqual(
      [...dense.step1].sort((a, b) => a - b),
      [...sparse.step1].sort((a, b) => a - b),
    );
    // 2 histories of up to 3 items + 2 targets + 10 x 2 drawn negatives: a few dozen rows of 2,000.
    assert.ok(dense.step1.size > 0 && dense.step1.size < 40, `${dense.step1.size} rows`);
  });

  it('dense Adam keeps moving rows of step 1 that step 2 does not touch; row-wise Adam leaves them', () => {
    const dense = twoSteps('dense');
    const sparse = twoSteps('sparse');
    // Row-wise: step 2 changes exactly the rows step 2 touches (same draws in both runs).
    const touched2 = sparse.step2;
    const untouched = [...sparse.step1].filter((r) => !touched2.has(r));
    assert.ok(untouched.length > 0, 'step 2 should miss some rows of step 1');
    // Dense: every row with a nonzero first moment moves again (m decays by beta1 but is not 0).
    for (const r of sparse.step1) assert.ok(dense.step2.has(r), `dense Adam left row ${r} in place`);
    for (const r of untouched) assert.ok(!sparse.step2.has(r), `row-wise Adam moved untouched row ${r}`);
    // Rows no step touched have zero moments: neither mode moves them.
    for (const r of dense.step2) assert.ok(dense.step1.has(r) || touched2.has(r), `row ${r} moved without a gradient`);
  });
});
