/**
 * Optimizer state in bundles (src/bundle/optimizer-state.ts, src/train/optimizer-state.ts):
 * a fit with `saveOptimizerState` saves Adam's state with its best weights; a warm start
 * (`from`) restores it, old rows exactly and new rows at zero moments, the step continued; an
 * interrupted run continued from a bundle is bit for bit the uninterrupted one (and is not
 * when the state is dropped); a bundle without it, or with a state of another optimizer,
 * warm-starts with a fresh Adam and says so.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { exportBundle, loadBundle } from '../../src/bundle/bundle.js';
import { loadModel, saveModel, versionFile } from '../../src/bundle/checkpoint.js';
import { OPTIMIZER_FILES, readOptimizerState, type OptimizerState } from '../../src/bundle/optimizer-state.js';
import { SequenceDataset } from '../../src/data/dataset.js';
import { resolveLoss } from '../../src/losses/index.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { AdamStep } from '../../src/train/step.js';
import { Trainer, type FitResult } from '../../src/train/trainer.js';
import { loadWarmStart } from '../../src/train/warm-start.js';
import { Random } from '../../src/util/random.js';
import { setupBackend } from '../helpers.js';
import { tempDir } from '../serve/helpers.js';

const log = (rows: string[][]) => ({
  sequences: rows.map((items, u) => ({ user: `u${u}`, items, timestamps: items.map((_, t) => t) })),
  stats: undefined as never,
});
const OPTIONS = { protocol: 'loo' as const, maxLen: 4 };
const rng = new Random(11);
const seqs = (n: number, items: string[]) => Array.from({ length: n }, () => Array.from({ length: 5 + rng.int(4) }, () => items[rng.int(items.length)]));
const OLD_ITEMS = 'abcdefghij'.split('');
const OLD = seqs(24, OLD_ITEMS);
// The grown log: three new items (and every old one).
const NEW = [...OLD, ...seqs(8, [...OLD_ITEMS, 'x', 'y', 'z']), ['x', 'y', 'z', 'x', 'a', 'b']];
const MODEL = { embeddingDim: 4, maxLen: 4, seed: 3 };
const FIT = { batchSize: 8, patience: 10 };

let dir: string;
let parentData: SequenceDataset;

/** The dataset with epoch e's batches being epoch e + shift's: a continued run sees the batches the uninterrupted one saw. */
function shifted(dataset: SequenceDataset, shift: number): SequenceDataset {
  const view = Object.create(dataset) as SequenceDataset;
  view.trainBatches = (epoch: number, batchSize: number) => dataset.trainBatches(epoch + shift, batchSize);
  return view;
}

/** The model's weights after epoch `epoch` of a fit (before the best epoch is restored). */
function weightsAt(model: GRU4Rec, epoch: number, out: Map<string, Float32Array>) {
  return {
    onEpochEnd: (r: { epoch: number }) => {
      if (r.epoch === epoch) for (const { name, variable } of model.namedWeights()) out.set(name, (variable.dataSync() as Float32Array).slice());
    },
  };
}

const rngState = (m: GRU4Rec) => m.trainRng as unknown as { state: number };

before(async () => {
  await setupBackend();
  dir = await tempDir('seqrec-optstate-');
  parentData = SequenceDataset.fromLog(log(OLD), OPTIONS);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('optimizer state in bundles', () => {
  for (const loss of ['softmax', 'sampled-softmax'] as const) {
    const mode = loss === 'softmax' ? 'dense' : 'sparse';
    it(`${mode} Adam: saved with the best weights, restored on a grown log (old rows exact, new rows zero, step continued)`, async () => {
      const parent = new GRU4Rec({ itemCount: parentData.itemCount, ...MODEL });
      const checkpoints = `${dir}/${mode}-checkpoints`;
      const fit = await new Trainer(parent, { ...FIT, epochs: 2, loss, saveOptimizerState: true, checkpointDir: checkpoints }).fit(parentData);
      const saved = fit.optimizerState!;
      // Every checkpoint carries the state of its epoch; the last one is the best epoch's.
      const checkpoint = await loadModel(checkpoints);
      checkpoint.model.dispose();
      assert.deepEqual(await readOptimizerState(checkpoint), saved);
      assert.equal(saved.itemGradients, mode);
      assert.ok(saved.step > 0);
      assert.equal(saved.rowWise?.weight ?? null, mode === 'sparse' ? 'item_embeddings' : null);
      const bundle = `${dir}/${mode}`;
      await exportBundle(parent, bundle, { vocabulary: parentData.vocabulary, popularity: parentData.itemPopularity(), optimizerState: saved });
      parent.dispose();
      // The files give back the state bit for bit; the bundle still serves.
      const loaded = await loadModel(bundle);
      assert.deepEqual(await readOptimizerState(loaded), saved);
      loaded.model.dispose();
      (await loadBundle(bundle)).model.dispose();

      const data = SequenceDataset.fromLog(log(NEW), OPTIONS).withVocabulary(parentData.vocabulary);
      const rows = parentData.itemCount;
      assert.equal(data.itemCount, rows + 3);
      const model = new GRU4Rec({ itemCount: data.itemCount, ...MODEL });
      const tensors = tf.memory().numTensors;
      const { optimizerState } = await loadWarmStart(model, data, bundle);
      const step = new AdamStep(model, resolveLoss(loss, { itemCount: data.itemCount, itemPopularity: data.itemPopularity() }), {
        learningRate: 1e-3,
        itemGradients: mode,
      });
      const restore = step.restoreModelState(optimizerState);
      assert.equal(restore.restored, true);
      assert.match(restore.note, new RegExp(`at step ${saved.step} \\(the 3 new item rows start at zero moments\\)`));
      const got = step.exportModelState();
      step.dispose();
      assert.equal(tf.memory().numTensors, tensors, 'no tensor left behind');
      assert.equal(got.step, saved.step);
      assert.deepEqual([got.accBeta1, got.accBeta2, got.rowWise, got.itemRows], [saved.accBeta1, saved.accBeta2, saved.rowWise, data.itemCount]);
      const byName = new Map(got.moments.map((w) => [w.weight, w]));
      assert.equal(byName.size, saved.moments.length);
      for (const w of saved.moments) {
        const r = byName.get(w.weight)!;
        const n = w.m.length;
        assert.deepEqual(Array.from(r.m.subarray(0, n)), Array.from(w.m), `${w.weight}/m`);
        assert.deepEqual(Array.from(r.v.subarray(0, n)), Array.from(w.v), `${w.weight}/v`);
        // Weights with one row per item grew by 3 rows, all zero.
        if (w.shape[0] === rows) {
          assert.equal(r.shape[0], rows + 3, w.weight);
          assert.ok(r.m.subarray(n).every((x) => x === 0) && r.v.subarray(n).every((x) => x === 0), `${w.weight}: new rows at zero`);
        } else {
          assert.equal(r.m.length, n, w.weight);
        }
      }
      model.dispose();
    });
  }

  for (const loss of ['softmax', 'sampled-softmax'] as const) {
    it(`${loss}: 1 epoch, a bundle, 2 more from it = 3 epochs straight, bit for bit; not so without the state`, async () => {
      const data = parentData;
      const straight = new Map<string, Float32Array>();
      const s = new GRU4Rec({ itemCount: data.itemCount, ...MODEL });
      await new Trainer(s, { ...FIT, loss, epochs: 3, callbacks: weightsAt(s, 3, straight) }).fit(data);
      s.dispose();

      const first = new GRU4Rec({ itemCount: data.itemCount, ...MODEL });
      const fit: FitResult = await new Trainer(first, { ...FIT, loss, epochs: 1, saveOptimizerState: true }).fit(data);
      const withState = `${dir}/${loss}-e1`;
      const without = `${dir}/${loss}-e1-bare`;
      await saveModel(first, withState, { vocabulary: data.vocabulary, optimizerState: fit.optimizerState });
      await saveModel(first, without, { vocabulary: data.vocabulary });
      // Sampled negatives come from the model's training stream: the continued run carries it on (not optimizer state).
      const stream = rngState(first).state;
      first.dispose();

      const continued = async (from: string) => {
        const out = new Map<string, Float32Array>();
        const m = new GRU4Rec({ itemCount: data.itemCount, ...MODEL });
        rngState(m).state = stream;
        const lines: string[] = [];
        const r = await new Trainer(m, { ...FIT, loss, epochs: 2, from, log: (l) => lines.push(l), callbacks: weightsAt(m, 2, out) }).fit(shifted(data, 1));
        m.dispose();
        return { out, restore: r.warmStart!.optimizer!, lines };
      };
      const a = await continued(withState);
      assert.equal(a.restore.restored, true);
      for (const [name, w] of straight) assert.deepEqual(Array.from(a.out.get(name)!), Array.from(w), name);

      const b = await continued(without);
      assert.equal(b.restore.restored, false);
      assert.ok(
        b.lines.some((l) => /saved without optimizer state .*Adam starts afresh/.test(l)),
        b.lines.join('\n'),
      );
      let diff = 0;
      for (const [name, w] of straight) w.forEach((x, i) => (diff = Math.max(diff, Math.abs(x - b.out.get(name)![i]))));
      assert.ok(diff > 1e-4, `without the state the weights differ measurably (max |Δ| ${diff})`);
    });
  }

  it('a state of another optimizer starts afresh and says why; a damaged optimizer.bin is refused', async () => {
    const data = SequenceDataset.fromLog(log(NEW), OPTIONS).withVocabulary(parentData.vocabulary);
    const m = new GRU4Rec({ itemCount: data.itemCount, ...MODEL });
    const lines: string[] = [];
    // Dense state, sparse fit.
    const r = await new Trainer(m, {
      ...FIT,
      loss: 'sampled-softmax',
      itemGradients: 'sparse',
      epochs: 1,
      from: `${dir}/dense`,
      log: (l) => lines.push(l),
    }).fit(data);
    m.dispose();
    assert.deepEqual(r.warmStart?.optimizer?.restored, false);
    assert.match(r.warmStart!.optimizer!.note, /trained with itemGradients 'dense', this fit uses 'sparse': Adam starts afresh/);
    assert.ok(lines.some((l) => l.includes(r.warmStart!.optimizer!.note)));

    const loaded = await loadModel(`${dir}/dense`);
    loaded.model.dispose();
    const path = versionFile(loaded, OPTIMIZER_FILES.data);
    const bytes = await readFile(path);
    bytes[0] ^= 1;
    await writeFile(path, bytes);
    await assert.rejects(loadModel(`${dir}/dense`), (e: Error & { code?: string }) => e.code === 'bundle_invalid' && /optimizer\.bin/.test(e.message));
  });

  it('refuses a header that does not describe the data', async () => {
    const m = new GRU4Rec({ itemCount: parentData.itemCount, ...MODEL });
    const fit = await new Trainer(m, { ...FIT, epochs: 1, saveOptimizerState: true }).fit(parentData);
    const bad: OptimizerState = { ...fit.optimizerState!, beta1: 2 };
    await assert.rejects(saveModel(m, `${dir}/bad`, { optimizerState: bad }), /optimizer\.json: beta1/);
    m.dispose();
  });
});
