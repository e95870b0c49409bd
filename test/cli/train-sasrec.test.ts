/**
 * `seqrec train --model sasrec`: trains at every position by default, takes its block, head
 * and dropout flags, writes a bundle that loads with that config, and refuses those flags for
 * other models.
 */
import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadBundle } from '../../src/bundle/bundle.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { setupBackend } from '../helpers.js';
import { runCli, tempDir } from '../serve/helpers.js';

let root: string;
let dataFile: string;
const FLAGS = ['--format', 'sequence', '--min-count', '0', '--max-len', '10', '--dim', '8', '--batch', '64', '--epochs', '1'];

before(async () => {
  await setupBackend();
  root = await tempDir('seqrec-cli-sasrec-');
  const log = generateSynthetic({ numUsers: 200, numItems: 80, numClusters: 4, minLength: 8, maxLength: 16, seed: 4 });
  dataFile = join(root, 'tiny.txt');
  await writeFile(dataFile, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
});
after(() => rm(root, { recursive: true, force: true }));

async function train(extra: string[]): Promise<{ code: number | string; stderr: string; stdout: string }> {
  const p = runCli(['train', '--data', dataFile, ...FLAGS, ...extra]);
  const code = await p.exited;
  return { code, stderr: p.stderr(), stdout: p.stdout() };
}

describe('seqrec train --model sasrec', () => {
  it('trains at every position, with --blocks, --heads and --dropout, and writes a bundle with that config', async () => {
    const out = join(root, 'sasrec');
    const r = await train(['--model', 'sasrec', '--blocks', '1', '--heads', '2', '--dropout', '0.1', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /sasrec on .*samples\/s \(a target at every position\)/);
    assert.match(r.stdout, /MostPopular/);
    const loaded = await loadBundle(out);
    assert.equal(loaded.model.name, 'sasrec');
    assert.deepEqual(
      { ...loaded.model.getConfig() },
      {
        itemCount: loaded.model.itemCount,
        embeddingDim: 8,
        maxLen: 10,
        seed: 42,
        numBlocks: 1,
        numHeads: 2,
        dropout: 0.1,
        scaleEmbeddings: true,
        positionOrigin: 'end',
        separateOutput: false,
      },
    );
    loaded.model.dispose();
    // eval and recommend read the bundle back.
    const evaluated = runCli(['eval', '--model', out]);
    assert.equal(await evaluated.exited, 0, evaluated.stderr());
    assert.match(evaluated.stdout(), /recall@20/);
    const item = loaded.vocabulary.decode(1);
    const recommended = runCli(['recommend', '--model', out, '--history', item, '--k', '3']);
    assert.equal(await recommended.exited, 0, recommended.stderr());
  });

  it('eval ranks with the exclusion the training run used, unless --exclude overrides it', async () => {
    const out = join(root, 'sasrec-history');
    const r = await train(['--model', 'sasrec', '--blocks', '1', '--exclude', 'history', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    const recall = (stdout: string) => {
      const lines = stdout.split('\n');
      const header = lines
        .find((l) => /^\s+\S*@/.test(l))!
        .trim()
        .split(/\s+/);
      const row = lines
        .find((l) => /^sasrec\s+[0-9]/.test(l))!
        .trim()
        .split(/\s+/);
      return row[header.indexOf('recall@20') + 1];
    };
    const same = runCli(['eval', '--model', out]);
    assert.equal(await same.exited, 0, same.stderr());
    assert.match(same.stdout(), /rankings exclude: history/);
    assert.equal(recall(same.stdout()), recall(r.stdout));
    const none = runCli(['eval', '--model', out, '--exclude', 'none']);
    assert.equal(await none.exited, 0, none.stderr());
    assert.doesNotMatch(none.stdout(), /rankings exclude/);
  });

  it('--targets last trains SASRec on one target per window, with any loss', async () => {
    const r = await train(['--model', 'sasrec', '--targets', 'last', '--loss', 'bpr', '--blocks', '1']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /a target at every position/);
  });

  it('clear errors: a sampler gBCE cannot honour, SASRec flags for other models, a bad --targets', async () => {
    const loss = await train(['--model', 'sasrec', '--loss', 'gbce', '--sampler', 'popularity']);
    assert.notEqual(loss.code, 0);
    assert.match(loss.stderr, /'gbce' draws its negatives uniformly over the items; only --negatives applies/);
    const blocks = await train(['--model', 'gru4rec', '--blocks', '2']);
    assert.notEqual(blocks.code, 0);
    assert.match(blocks.stderr, /--blocks applies to --model sasrec, not gru4rec/);
    const targets = await train(['--model', 'sasrec', '--targets', 'all']);
    assert.notEqual(targets.code, 0);
    assert.match(targets.stderr, /--targets/);
    const dnn = await train(['--model', 'youtubednn', '--targets', 'every']);
    assert.notEqual(dnn.code, 0);
    assert.match(dnn.stderr, /youtubednn has none/);
  });
});
