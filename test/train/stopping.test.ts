/**
 * Stopping besides epochs and patience: a time budget (`maxSeconds`) and an AbortSignal (Ctrl-C
 * in the CLI). Both end with the best weights, as early stopping does; an aborted epoch is
 * dropped, not recorded.
 */
import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { Trainer } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';
import { runCli, tempDir } from '../serve/helpers.js';

before(setupBackend);

const log = generateSynthetic({ numUsers: 150, numItems: 60, numClusters: 4, minLength: 6, maxLength: 14, seed: 5 });
const data = SequenceDataset.fromLog(log, { maxLen: 8, seed: 1 });
const model = () => new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: data.maxLen, seed: 1 });
const weights = (m: GRU4Rec) => m.trainableVariables().map((v) => Array.from(v.dataSync()));

describe('Trainer: maxSeconds and signal', () => {
  it('maxSeconds stops after the epoch that crosses it, with the best weights', async () => {
    const m = model();
    const fit = await new Trainer(m, { epochs: 50, patience: 50, batchSize: 32, maxSeconds: 1e-6 }).fit(data);
    assert.equal(fit.stoppedBy, 'time_limit');
    assert.equal(fit.history.length, 1);
    assert.equal(fit.bestEpoch, 1);
    m.dispose();
  });

  it('an abort mid-epoch drops that epoch and ends with the weights of the best finished one', async () => {
    const m = model();
    const controller = new AbortController();
    let afterEpoch1: number[][] = [];
    let steps = 0;
    const fit = await new Trainer(m, {
      epochs: 10,
      patience: 10,
      batchSize: 16,
      signal: controller.signal,
      callbacks: {
        onEpochEnd: (r) => {
          if (r.epoch === 1) afterEpoch1 = weights(m);
        },
        onBatchEnd: () => {
          steps++;
          // Epoch 1 has several batches; abort in the middle of epoch 2.
          if (afterEpoch1.length && steps === Math.ceil(data.trainSamplesPerEpoch() / 16) + 2) controller.abort();
        },
      },
    }).fit(data);
    assert.equal(fit.stoppedBy, 'interrupted');
    assert.equal(fit.history.length, 1, 'the aborted epoch leaves no record');
    assert.deepEqual(weights(m), afterEpoch1, 'the weights are those of epoch 1, not of the half epoch after it');
    m.dispose();
  });

  it('an already aborted signal trains nothing and keeps the initial weights', async () => {
    const m = model();
    const initial = weights(m);
    const controller = new AbortController();
    controller.abort();
    const fit = await new Trainer(m, { epochs: 3, signal: controller.signal }).fit(data);
    assert.equal(fit.stoppedBy, 'interrupted');
    assert.equal(fit.history.length, 0);
    assert.deepEqual(weights(m), initial);
    m.dispose();
  });

  it('bad values are errors that name the option', () => {
    const m = model();
    assert.throws(() => new Trainer(m, { maxSeconds: -1 }), /maxSeconds.*positive number of seconds/);
    assert.throws(() => new Trainer(m, { signal: 'stop' as unknown as AbortSignal }), /signal.*AbortSignal/);
    m.dispose();
  });
});

describe('seqrec train: --max-minutes and Ctrl-C', () => {
  let root: string;
  let file: string;
  before(async () => {
    root = await tempDir('seqrec-stop-');
    file = join(root, 'tiny.txt');
    await writeFile(file, log.sequences.map((s) => `${s.user} ${s.items.join(' ')}`).join('\n') + '\n');
  });
  after(() => rm(root, { recursive: true, force: true }));
  const flags = () => ['train', '--data', file, '--format', 'sequence', '--min-count', '0', '--max-len', '8', '--dim', '8', '--batch', '16'];

  it('--max-minutes stops after the epoch past the budget and evaluates the best epoch', async () => {
    const p = runCli([...flags(), '--epochs', '40', '--patience', '40', '--max-minutes', '0.01']);
    assert.equal(await p.exited, 0, p.stderr());
    assert.match(p.stdout(), /best epoch \d+ of \d+ \(time_limit\)/);
    assert.match(p.stdout(), /MostPopular/);
  });

  it('the first SIGINT stops training and still reports the test metrics; exit 0', async () => {
    const p = runCli([...flags(), '--epochs', '5000', '--patience', '5000']);
    const t0 = Date.now();
    while (!/epoch\s+2\b/.test(p.stderr())) {
      if (p.child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`no second epoch: ${p.stderr()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    p.child.kill('SIGINT');
    assert.equal(await p.exited, 0, p.stderr());
    assert.match(p.stderr(), /interrupted: stopping after this batch/);
    assert.match(p.stdout(), /\(interrupted\)/);
    assert.match(p.stdout(), /MostPopular/);
  });
});
