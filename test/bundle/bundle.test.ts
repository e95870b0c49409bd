import assert from 'node:assert/strict';
import { cp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SequenceDataset } from '../../src/data/dataset.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import type { GRU4Rec } from '../../src/models/gru4rec.js';
import { BUNDLE_VERSION, exportBundle, loadBundle } from '../../src/bundle/bundle.js';
import { importFaiss } from '../../src/serve/recommender-state.js';
import { Recommender } from '../../src/serve/recommender.js';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { itemMatrix } from '../../src/train/evaluate.js';
import { fileIn, filesDir, rewriteJsonFile, rewriteManifest } from './bundle-files.js';
import { SeqrecError } from '../../src/errors.js';
import { tempDir, trainTinyModel } from '../serve/helpers.js';

// faiss is optional: the test runs where src/retrieval/faiss.ts exists and faiss-node loads.
const faiss = (await importFaiss().catch(() => null)) as
  | (Awaited<ReturnType<typeof importFaiss>> & {
      FaissRetriever: new (items: Float32Array, dim: number, options: { factory: string }) => { save(path: string): void; dispose(): void };
    })
  | null;
const faissOk = faiss !== null && faiss.faissAvailable();

let root: string;
let good: string;
let model: GRU4Rec;
let dataset: SequenceDataset;

before(async () => {
  root = await tempDir();
  ({ model, dataset } = await trainTinyModel({ seed: 5, epochs: 2 }));
  good = join(root, 'good');
  await exportBundle(model, good, { vocabulary: dataset.vocabulary, popularity: dataset.itemPopularity(), popularitySource: 'tiny' });
});
after(async () => {
  model.dispose();
  await rm(root, { recursive: true, force: true });
});

/** A fresh copy of the good bundle to damage. */
async function copy(name: string): Promise<string> {
  const dir = join(root, name);
  await cp(good, dir, { recursive: true });
  return dir;
}

async function editJson(path: string, edit: (j: any) => void): Promise<void> {
  const j = JSON.parse(await readFile(path, 'utf8'));
  edit(j);
  await writeFile(path, JSON.stringify(j));
}

describe('bundle', () => {
  it('writes the documented layout with a format number and digests', async () => {
    // One committed version and the pointer naming it (src/bundle/atomic-dir.ts).
    assert.deepEqual((await readdir(good)).sort(), ['CURRENT', 'v000001']);
    assert.deepEqual((await readdir(filesDir(good))).sort(), ['.seqrec', 'model.json', 'popularity.json', 'vocabulary.json', 'weights.bin']);
    const manifest = JSON.parse(await readFile(fileIn(good, 'model.json'), 'utf8'));
    assert.equal(manifest.format, 'seqrec-model');
    assert.equal(manifest.bundle.format, 'seqrec-bundle');
    assert.equal(manifest.bundle.version, BUNDLE_VERSION);
    assert.deepEqual(manifest.bundle.itemEmbeddings, { source: 'weights', weight: 'item_embeddings', rows: dataset.itemCount, dim: 16 });
    assert.deepEqual(Object.keys(manifest.files).sort(), ['popularity.json', 'vocabulary.json', 'weights.bin']);
    for (const d of Object.values(manifest.files) as { bytes: number; sha256: string }[]) assert.match(d.sha256, /^[0-9a-f]{64}$/);
    const pop = JSON.parse(await readFile(fileIn(good, 'popularity.json'), 'utf8'));
    assert.equal(pop.format, 'seqrec-popularity');
    assert.deepEqual(pop.counts, [...dataset.itemPopularity()]);
    // No temporary directories left behind.
    assert.deepEqual(
      (await readdir(root)).filter((n) => n.startsWith('.')),
      [],
    );
  });

  it('loads back: same weights, vocabulary and counts; a bundle is still a checkpoint', async () => {
    const b = await loadBundle(good);
    assert.deepEqual([...b.model.itemEmbeddings().dataSync()], [...model.itemEmbeddings().dataSync()]);
    assert.deepEqual(b.vocabulary.items(), dataset.vocabulary.items());
    assert.deepEqual([...b.popularity], [...dataset.itemPopularity()]);
    assert.equal(b.section.popularity.source, 'tiny');
    b.model.dispose();
    const asCheckpoint = await loadModel(good);
    assert.equal(asCheckpoint.model.name, 'gru4rec');
    asCheckpoint.model.dispose();
  });

  it('names the file at fault for every kind of damage', async () => {
    const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
      ['no-popularity', (d) => rm(fileIn(d, 'popularity.json')), /popularity\.json: missing, but model\.json lists it/],
      [
        'bad-popularity',
        (d) => writeFile(fileIn(d, 'popularity.json'), '{"format":"seqrec-popularity"'),
        /popularity\.json: contents do not match model\.json .* corrupt/,
      ],
      [
        'flipped-weight',
        async (d) => {
          const w = await readFile(fileIn(d, 'weights.bin'));
          w[100] ^= 0xff;
          await writeFile(fileIn(d, 'weights.bin'), w);
        },
        /weights\.bin: contents do not match model\.json/,
      ],
      [
        'short-weights',
        async (d) => writeFile(fileIn(d, 'weights.bin'), (await readFile(fileIn(d, 'weights.bin'))).subarray(8)),
        /weights\.bin: \d+ bytes, but model\.json describes/,
      ],
      ['edited-vocabulary', (d) => editJson(fileIn(d, 'vocabulary.json'), (j) => j.items.reverse()), /vocabulary\.json: contents do not match model\.json/],
      ['no-vocabulary', (d) => rm(fileIn(d, 'vocabulary.json')), /vocabulary\.json: missing, but model\.json lists it/],
      ['edited-manifest', (d) => editJson(fileIn(d, 'model.json'), (j) => (j.bundle.similarity = 'cosine')), /model\.json: contents do not match CURRENT/],
      // Edits behind a re-recorded digest reach the section's own checks.
      [
        'bundle-version',
        (d) => rewriteManifest(d, (j) => (j.bundle.version = 99)),
        /model\.json: bundle format version 99 is not supported \(this seqrec reads version 1\)/,
      ],
      ['bundle-format', (d) => rewriteManifest(d, (j) => (j.bundle.format = 'other')), /model\.json: bundle\.format is not "seqrec-bundle"/],
      ['bundle-rows', (d) => rewriteManifest(d, (j) => (j.bundle.itemEmbeddings.rows = 3)), /model\.json: bundle\.itemEmbeddings is 3 x 16/],
      [
        'manifest-json',
        (d) =>
          rewriteManifest(
            d,
            () => undefined,
            () => '{',
          ),
        /model\.json: not valid JSON/,
      ],
      ['no-manifest', (d) => rm(fileIn(d, 'model.json')), /model\.json: cannot read the model manifest \(ENOENT\)/],
    ];
    for (const [name, damage, message] of cases) {
      const dir = await copy(name);
      await damage(dir);
      await assert.rejects(loadBundle(dir), message, name);
      await assert.rejects(Recommender.load(dir), message, name);
    }
    // Popularity with the right digest but the wrong length (re-digested by hand).
    const dir = await copy('short-popularity');
    const text = JSON.stringify({ format: 'seqrec-popularity', version: 1, source: 'x', counts: [0, 1, 2] });
    await writeFile(fileIn(dir, 'popularity.json'), text);
    const { digestOf } = await import('../../src/bundle/checkpoint.js');
    await rewriteManifest(dir, (j) => (j.files['popularity.json'] = digestOf(Buffer.from(text))));
    await assert.rejects(loadBundle(dir), /popularity\.json: has 3 counts but the model has \d+ item rows/);
  });

  it('explains that a plain checkpoint is not a bundle, and what is not a bundle directory', async () => {
    const ckpt = join(root, 'ckpt');
    await saveModel(model, ckpt, { vocabulary: dataset.vocabulary });
    await assert.rejects(loadBundle(ckpt), /model\.json: this is a training checkpoint, not a serving bundle .*`seqrec export --model DIR --out BUNDLE_DIR`/);
    await assert.rejects(loadBundle(join(root, 'nothing')), /no such bundle directory/);
    await assert.rejects(loadBundle(fileIn(good, 'weights.bin')), /not a directory/);
  });

  it('a checkpoint without digests is refused: deleting "files" does not turn the checks off (issue #14 item 9)', async () => {
    const old = join(root, 'old');
    await saveModel(model, old, { vocabulary: dataset.vocabulary });
    await rewriteManifest(old, (j) => delete j.files);
    await assert.rejects(loadModel(old), /model\.json: files: /);
  });

  it('export checks its inputs and never replaces an unrelated directory', async () => {
    const v = dataset.vocabulary;
    const pop = dataset.itemPopularity();
    await assert.rejects(
      exportBundle(model, join(root, 'x1'), { vocabulary: ItemVocabulary.build([['a', 'b']]), popularity: pop }),
      /vocabulary has 3 entries/,
    );
    await assert.rejects(exportBundle(model, join(root, 'x2'), { vocabulary: v, popularity: [1, 2, 3] }), /popularity has 3 counts but the model has/);
    const negative = Float64Array.from(pop);
    negative[4] = -1;
    await assert.rejects(exportBundle(model, join(root, 'x3'), { vocabulary: v, popularity: negative }), /popularity\[4\] must be a finite count >= 0/);
    await assert.rejects(
      exportBundle(model, join(root, 'x4'), { vocabulary: v, popularity: pop, similarity: 'l2' as 'ip' }),
      /similarity must be 'ip' or 'cosine'/,
    );
    const precious = join(root, 'precious');
    await mkdir(precious);
    await writeFile(join(precious, 'notes.txt'), 'keep me');
    await assert.rejects(exportBundle(model, precious, { vocabulary: v, popularity: pop }), /not empty and holds no seqrec model; refusing to write into it/);
    assert.equal(await readFile(join(precious, 'notes.txt'), 'utf8'), 'keep me');
    await assert.rejects(exportBundle(model, good, { vocabulary: v, popularity: pop, existing: 'error' }), /already holds a seqrec model/);
    // Replacing an existing bundle works and leaves nothing behind.
    const again = await copy('again');
    await exportBundle(model, again, { vocabulary: v, popularity: pop, popularitySource: 'second' });
    assert.equal((await loadBundle(again)).section.popularity.source, 'second');
    assert.deepEqual(
      (await readdir(root)).filter((n) => n.startsWith('.')),
      [],
    );
  });

  it(
    'carries an optional faiss index that the Recommender serves with',
    { skip: !faissOk && 'faiss-node (or src/retrieval/faiss.ts) not available' },
    async () => {
      const dir = join(root, 'faiss');
      const index = new faiss!.FaissRetriever(itemMatrix(model), model.embeddingDim, { factory: 'Flat' });
      await exportBundle(model, dir, { vocabulary: dataset.vocabulary, popularity: dataset.itemPopularity(), faiss: index });
      index.dispose();
      const manifest = JSON.parse(await readFile(fileIn(dir, 'model.json'), 'utf8'));
      assert.equal(manifest.bundle.faiss.file, 'faiss.index');
      assert.equal(manifest.bundle.faiss.factory, 'Flat');
      const viaFaiss = await Recommender.load(dir);
      const exact = await Recommender.load(dir, { retriever: 'exact' });
      assert.equal(viaFaiss.info().retriever, 'faiss');
      assert.equal(exact.info().retriever, 'exact');
      const ids = dataset.vocabulary.items();
      for (const h of [[ids[0]], ids.slice(3, 12), [ids[50], ids[2]]]) assert.deepEqual(viaFaiss.recommend(h, { k: 25 }), exact.recommend(h, { k: 25 }));
      viaFaiss.dispose();
      exact.dispose();
      // A damaged index is refused by name, by its digest in model.json: no file goes unchecked,
      // even when exact retrieval would not read it.
      const idx = await readFile(fileIn(dir, 'faiss.index'));
      idx[idx.length - 5] ^= 0xff;
      await writeFile(fileIn(dir, 'faiss.index'), idx);
      await assert.rejects(Recommender.load(dir), /faiss\.index: contents do not match model\.json/);
      await assert.rejects(Recommender.load(dir, { retriever: 'exact', warmUp: false }), /faiss\.index: contents do not match model\.json/);
      idx[idx.length - 5] ^= 0xff;
      await writeFile(fileIn(dir, 'faiss.index'), idx);
      // The sidecar is read through its strict schema by the bundle load itself (digest re-recorded: a deliberate edit).
      await rewriteJsonFile(dir, 'faiss.index.json', (s) => (s.nprob = 4));
      await assert.rejects(
        loadBundle(dir),
        (e: unknown) =>
          e instanceof SeqrecError &&
          e.code === 'bundle_invalid' &&
          e.field === 'nprob' &&
          /faiss\.index\.json: unknown option 'nprob' \(did you mean 'nprobe'\?\)/.test(e.message),
      );
    },
  );
});
