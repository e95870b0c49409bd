/** `seqrec train --out` and `seqrec export` as users run them (child processes). */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { loadBundle } from '../../src/bundle/bundle.js';
import { loadModel, saveModel } from '../../src/bundle/checkpoint.js';
import { setupBackend } from '../helpers.js';
import { runCli, tempDir } from '../serve/helpers.js';

let root: string;
let dataFile: string;
let bundle: string;
const DATA_FLAGS = ['--min-count', '0', '--max-len', '10', '--dim', '8'];

before(async () => {
  await setupBackend();
  root = await tempDir('seqrec-cli-');
  const log = generateSynthetic({ numUsers: 300, numItems: 120, numClusters: 6, minLength: 8, maxLength: 20, seed: 9 });
  dataFile = join(root, 'tiny.txt');
  await writeFile(dataFile, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  bundle = join(root, 'bundle');
  const train = runCli(['train', '--data', dataFile, '--format', 'sequence', ...DATA_FLAGS, '--epochs', '2', '--out', bundle]);
  const code = await train.exited;
  assert.equal(code, 0, `seqrec train failed:\n${train.stderr()}`);
});
after(() => rm(root, { recursive: true, force: true }));

describe('seqrec train --out / export', () => {
  it('train --out writes a full serving bundle', async () => {
    const b = await loadBundle(bundle);
    assert.equal(b.section.format, 'seqrec-bundle');
    assert.equal(b.section.popularity.source, dataFile);
    assert.equal(b.vocabulary.numItems, 120);
    // The cold-start tables, counted from the same data (docs/serving.md, "Cold start").
    assert.match(b.section.recentPopularity!.source, /the last 0\.2 of each training sequence/);
    assert.ok(b.recentPopularity && b.recentPopularity.some((c, i) => c !== b.popularity[i]), 'recent counts differ from all-time ones');
    assert.equal(b.cooccurrence!.neighbours, 20);
    assert.equal(b.cooccurrence!.offsets.length, b.model.itemCount + 1);
    b.model.dispose();
  });

  it('export: from a bundle, from a checkpoint with --data, and a clear error without data', async () => {
    const fromBundle = join(root, 'copy');
    let p = runCli(['export', '--model', bundle, '--out', fromBundle]);
    assert.equal(await p.exited, 0, p.stderr());
    const a = await loadBundle(bundle);
    const b = await loadBundle(fromBundle);
    assert.deepEqual([...b.popularity], [...a.popularity]);
    assert.deepEqual([...b.model.itemEmbeddings().dataSync()], [...a.model.itemEmbeddings().dataSync()]);
    // The cold-start tables travel with a re-export.
    assert.deepEqual([...b.recentPopularity!], [...a.recentPopularity!]);
    assert.deepEqual([...b.cooccurrence!.ids], [...a.cooccurrence!.ids]);

    // A plain checkpoint (no bundle section, no recorded settings).
    const ckpt = join(root, 'ckpt');
    const loaded = await loadModel(bundle);
    await saveModel(loaded.model, ckpt, { vocabulary: loaded.vocabulary! });
    loaded.model.dispose();
    p = runCli(['export', '--model', ckpt, '--out', join(root, 'nodata')]);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /seqrec export: .*ckpt is a checkpoint without recorded data settings; pass --data FILE/);

    const fromData = join(root, 'fromdata');
    p = runCli(['export', '--model', ckpt, '--out', fromData, '--data', dataFile, '--format', 'sequence', ...DATA_FLAGS.slice(0, 4)]);
    assert.equal(await p.exited, 0, p.stderr());
    const c = await loadBundle(fromData);
    assert.deepEqual([...c.popularity], [...a.popularity]);
    assert.deepEqual([...c.cooccurrence!.cold], [...a.cooccurrence!.cold], 'counted again from --data');

    // Data that gives another vocabulary is refused.
    p = runCli(['export', '--model', ckpt, '--out', join(root, 'wrong'), '--data', dataFile, '--format', 'sequence', '--min-count', '10']);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /different item vocabulary/);
    for (const x of [a, b, c]) x.model.dispose();
  });
});
