/**
 * `seqrec train --item-features`: reads the features file, trains GRU4Rec with them and writes a
 * bundle that carries them (Recommender and eval score with them); refuses them for other models.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBundle } from '../../src/bundle/bundle.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { setupBackend } from '../helpers.js';
import { runCli, tempDir } from '../serve/helpers.js';

let root: string;
let dataFile: string;
let featureFile: string;
const FLAGS = ['--format', 'sequence', '--min-count', '0', '--max-len', '10', '--dim', '8', '--batch', '64', '--epochs', '1', '--runs-dir', 'none'];

before(async () => {
  await setupBackend();
  root = await tempDir('seqrec-cli-features-');
  const log = generateSynthetic({ numUsers: 200, numItems: 80, numClusters: 4, minLength: 8, maxLength: 16, seed: 4 });
  dataFile = join(root, 'tiny.txt');
  await writeFile(dataFile, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  // Each item's cluster as its feature, plus one item id the data does not have.
  const features: Record<string, number[]> = { 'not-in-data': [99] };
  log.truth.clusterOrder.forEach((items, c) => items.forEach((item) => (features[`i${item}`] = [c])));
  featureFile = join(root, 'features.json');
  await writeFile(featureFile, JSON.stringify(features));
});
after(() => rm(root, { recursive: true, force: true }));

/** `seqrec train` on the tiny log with the shared flags, plus `extra`. */
const train = (...extra: string[]) => runCli(['train', '--data', dataFile, ...FLAGS, ...extra]);

describe('seqrec train --item-features', () => {
  it('trains with the features and writes them into the bundle', async () => {
    const out = join(root, 'gru');
    const p = train('--model', 'gru4rec', '--item-features', featureFile, '--feature-strategy', 'interleaving', '--out', out);
    assert.equal(await p.exited, 0, p.stderr());
    assert.match(
      p.stderr() + p.stdout(),
      /item features from .*: 4 features on \d+ of \d+ items .*1 items of the file not in the data, ignored\); strategy interleaving/,
    );
    const loaded = await loadBundle(out);
    assert.equal(loaded.model.itemFeatureStrategy, 'interleaving');
    assert.equal((loaded.model.getConfig() as { featureCount?: number }).featureCount, 4);
    assert.equal(loaded.model.itemFeatures()!.featureCount, 4);
    assert.ok(!loaded.extraFiles.includes('item-features.json'));
    loaded.model.dispose();
    const evaluated = runCli(['eval', '--model', out]);
    assert.equal(await evaluated.exited, 0, evaluated.stderr());
  });

  it('--feature-architecture parallel trains the p-RNN GRU4Rec and the bundle carries it; refused without features or for SASRec', async () => {
    const out = join(root, 'gru-parallel');
    const p = train('--model', 'gru4rec', '--item-features', featureFile, '--feature-architecture', 'parallel', '--out', out);
    assert.equal(await p.exited, 0, p.stderr());
    assert.match(p.stderr() + p.stdout(), /strategy simultaneous, architecture parallel/);
    const loaded = await loadBundle(out);
    assert.equal((loaded.model.getConfig() as { featureArchitecture?: string }).featureArchitecture, 'parallel');
    assert.ok(loaded.model.namedWeights().some((w) => w.name === 'feature_gru0/wh'));
    loaded.model.dispose();
    const noFeatures = train('--model', 'gru4rec', '--feature-architecture', 'parallel');
    assert.notEqual(await noFeatures.exited, 0);
    assert.match(noFeatures.stderr(), /--feature-architecture needs --item-features/);
    const sasrec = train('--model', 'sasrec', '--item-features', featureFile, '--feature-architecture', 'parallel');
    assert.notEqual(await sasrec.exited, 0);
    assert.match(sasrec.stderr(), /--feature-architecture applies to --model gru4rec, not sasrec/);
  });

  it('refuses --item-features for a model that does not take them', async () => {
    const p = train('--model', 'mind', '--item-features', featureFile);
    assert.notEqual(await p.exited, 0);
    assert.match(p.stderr(), /--item-features applies to --model gru4rec or sasrec, not mind/);
  });
});
