/**
 * Warm start (src/train/warm-start.ts): old ids keep their index and their vectors exactly,
 * new rows start at the model's init or at the co-occurrence mean computed by hand, every
 * other weight is the parent's, and a data or config that does not continue the parent is
 * refused with a message naming the item or field.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { SequenceDataset } from '../../src/data/dataset.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { Recommender } from '../../src/serve/recommender.js';
import { Trainer } from '../../src/train/trainer.js';
import { warmStart } from '../../src/train/warm-start.js';
import { setupBackend } from '../helpers.js';
import { tempDir } from '../serve/helpers.js';

const log = (rows: string[][]) => ({
  sequences: rows.map((items, u) => ({ user: `u${u}`, items, timestamps: items.map((_, t) => t) })),
  stats: undefined as never,
});
const OPTIONS = { protocol: 'loo' as const, maxLen: 4 };
// The parent's data: items a..e.
const OLD = [
  ['a', 'b', 'c', 'd', 'e'],
  ['b', 'c', 'a', 'e', 'd'],
  ['c', 'a', 'b', 'd', 'e'],
];
// The grown log: x co-occurs (in training parts, all but the last two items) with a three
// times and with b once; y only with z, two new items; both new sequences end in old items.
const NEW = [...OLD, ['a', 'x', 'b', 'c', 'c'], ['a', 'x', 'a', 'b', 'c'], ['y', 'z', 'y', 'd', 'e']];

let dir: string;
let parentDataset: SequenceDataset;
const rowsOf = (data: Float32Array, d: number, from: number, to: number) => Array.from(data.subarray(from * d, to * d));

before(async () => {
  await setupBackend();
  dir = await tempDir('seqrec-warm-');
  parentDataset = SequenceDataset.fromLog(log(OLD), OPTIONS);
  const parent = new GRU4Rec({ itemCount: parentDataset.itemCount, embeddingDim: 4, maxLen: 4, seed: 3 });
  await new Trainer(parent, { epochs: 1, batchSize: 2 }).fit(parentDataset);
  await saveModel(parent, dir, { vocabulary: parentDataset.vocabulary });
  parent.dispose();
});
after(() => rm(dir, { recursive: true, force: true }));

describe('warm start', () => {
  it('keeps every old id at its index with its vectors; new rows at init or the co-occurrence mean', async () => {
    const data = SequenceDataset.fromLog(log(NEW), OPTIONS).withVocabulary(parentDataset.vocabulary);
    assert.deepEqual(data.vocabulary.items().slice(0, 5), parentDataset.vocabulary.items());
    assert.deepEqual([...data.vocabulary.items().slice(5)].sort(), ['x', 'y', 'z']);
    const parent = await loadModel(dir);
    const p = new Map(parent.model.namedWeights().map(({ name, variable }) => [name, variable.dataSync() as Float32Array]));
    const D = 4;
    const ix = (id: string) => data.vocabulary.encode(id)!;
    for (const rule of ['init', 'cooccurrence'] as const) {
      const fresh = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 4, maxLen: 4, seed: 3 });
      const init = fresh.itemEmbeddings().dataSync().slice() as Float32Array;
      const report = await warmStart(fresh, data, dir, rule);
      assert.equal(report.parentDigest, parent.digest);
      assert.deepEqual([report.parentItems, report.newItems], [5, 3]);
      const table = fresh.itemEmbeddings().dataSync() as Float32Array;
      // Old rows (and padding) bit for bit; every non-item weight exactly the parent's.
      assert.deepEqual(rowsOf(table, D, 0, 6), rowsOf(p.get('item_embeddings')!, D, 0, 6));
      for (const { name, variable } of fresh.namedWeights()) {
        if (name !== 'item_embeddings') assert.deepEqual(Array.from(variable.dataSync()), Array.from(p.get(name)!), name);
      }
      const old = (id: string) => rowsOf(p.get('item_embeddings')!, D, ix(id), ix(id) + 1);
      if (rule === 'init') {
        for (const id of ['x', 'y', 'z']) assert.deepEqual(rowsOf(table, D, ix(id), ix(id) + 1), rowsOf(init, D, ix(id), ix(id) + 1), id);
        assert.equal(report.seededItems, 0);
      } else {
        // x: (3 · a + 1 · b) / 4; y and z share no sequence with an old item: init.
        const want = old('a').map((v, d) => (3 * v + old('b')[d]) / 4);
        rowsOf(table, D, ix('x'), ix('x') + 1).forEach((v, d) => assert.ok(Math.abs(v - want[d]) < 1e-6, `x[${d}]`));
        for (const id of ['y', 'z']) assert.deepEqual(rowsOf(table, D, ix(id), ix(id) + 1), rowsOf(init, D, ix(id), ix(id) + 1), id);
        assert.equal(report.seededItems, 1);
      }
      fresh.dispose();
    }
    parent.model.dispose();
  });

  it("refuses data that renumbers old ids and a config that is not the parent's", async () => {
    const renumbered = SequenceDataset.fromLog(log(NEW), OPTIONS); // its own frequency order
    const model = new GRU4Rec({ itemCount: renumbered.itemCount, embeddingDim: 4, maxLen: 4, seed: 3 });
    await assert.rejects(
      warmStart(model, renumbered, dir),
      /has index \d+ in the parent but not in this dataset; encode the data with dataset\.withVocabulary/,
    );
    model.dispose();
    const data = renumbered.withVocabulary(parentDataset.vocabulary);
    const wider = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 4, seed: 3 });
    await assert.rejects(warmStart(wider, data, dir), /differs from the parent's in embeddingDim \(8 vs 4\)/);
    wider.dispose();
  });

  it('Trainer option from: the fit starts from the parent and reports it; new items are reachable', async () => {
    const data = SequenceDataset.fromLog(log(NEW), OPTIONS).withVocabulary(parentDataset.vocabulary);
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 4, maxLen: 4, seed: 3 });
    const fit = await new Trainer(model, { from: dir, newRows: 'cooccurrence', epochs: 1, batchSize: 2 }).fit(data);
    assert.equal(fit.warmStart?.newItems, 3);
    assert.equal(fit.warmStart?.parentDigest, (await loadModel(dir).then((l) => (l.model.dispose(), l))).digest);
    // Items the parent never saw answer similarItems and are recommended like any other.
    const rec = Recommender.fromModel(model, { dataset: data });
    assert.equal(rec.similarItems('x', 3).length, 3);
    const all = rec.recommend(['a'], { k: data.itemCount - 2 }).items.map((i) => i.id);
    for (const id of ['x', 'y', 'z']) assert.ok(all.includes(id), id);
    rec.dispose();
    model.dispose();
  });
});
