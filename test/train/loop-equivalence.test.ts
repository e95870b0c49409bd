/**
 * Issue #16: the Trainer runs windowed and session-parallel training through one loop. These
 * epoch losses (and validation numbers) were recorded on the two separate loops before the
 * refactor, same seeds and backend; the single loop must reproduce them bit for bit.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { SessionSet } from '../../src/data/session-parallel.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { bprMax } from '../../src/losses/index.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { YouTubeDNN } from '../../src/models/youtube-dnn.js';
import { trainSessionParallel } from '../../src/train/session-parallel.js';
import { Trainer } from '../../src/train/trainer.js';
import { Random } from '../../src/util/random.js';
import * as tf from '@tensorflow/tfjs-core';
import { nativeAddon } from '../../src/backend/native.js';
import { setupBackend } from '../helpers.js';

before(setupBackend);

const PRINT = process.env.SEQREC_PRINT_PINNED === '1';

function windowed() {
  const log = generateSynthetic({ numUsers: 120, numItems: 50, numClusters: 4, minLength: 8, maxLength: 14, seed: 11 });
  return SequenceDataset.fromLog(log, { maxLen: 8, samplesPerUser: 2, seed: 1 });
}

function sessions(): SessionSet {
  const r = new Random(21);
  const lists = Array.from({ length: 90 }, () => Array.from({ length: 2 + r.int(7) }, () => 1 + r.int(40)));
  return new SessionSet(lists, ItemVocabulary.fromItems(Array.from({ length: 40 }, (_, i) => `i${i + 1}`)));
}

function check(name: string, got: number[], key: string): void {
  if (PRINT) return void console.log(`PINNED ${tf.getBackend()} ${key}: ${JSON.stringify(got)}`);
  // Kernels differ in the last bits between backends and with the native kernels; the pins
  // exist for wasm and cpu without them (.ci/run also runs this file with SEQREC_NATIVE=0).
  const pinned = nativeAddon() ? undefined : PINNED[tf.getBackend()];
  if (!pinned) return;
  assert.deepEqual(got, pinned[key], name);
}

describe('one training loop, numbers as before', () => {
  it('windowed, full softmax, dense Adam (GRU4Rec)', async () => {
    const data = windowed();
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed: 2 });
    const steps: number[] = [];
    const fit = await new Trainer(model, {
      epochs: 3,
      patience: 5,
      batchSize: 32,
      learningRate: 1e-2,
      callbacks: { onBatchEnd: (_s, loss) => void steps.push(loss) },
    }).fit(data);
    check(
      'windowed-softmax epochs',
      fit.history.map((r) => r.loss),
      'windowedSoftmax',
    );
    check(
      'windowed-softmax ndcg@50',
      fit.history.map((r) => r.valid['ndcg@50']),
      'windowedSoftmaxNdcg',
    );
    check('windowed-softmax first steps', steps.slice(0, 3), 'windowedSoftmaxSteps');
    model.dispose();
  });

  it('windowed, sampled BPR-max, row-wise Adam (YouTubeDNN)', async () => {
    const data = windowed();
    const model = new YouTubeDNN({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 8, seed: 3 });
    const fit = await new Trainer(model, { epochs: 2, batchSize: 32, learningRate: 1e-2, loss: 'bpr-max' }).fit(data);
    check(
      'windowed-bpr-max epochs',
      fit.history.map((r) => r.loss),
      'windowedBprMax',
    );
    model.dispose();
  });

  it('session-parallel, Adam, full softmax', async () => {
    const s = sessions();
    const model = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 8, seed: 4 });
    const steps: number[] = [];
    const r = await trainSessionParallel(model, s, { loss: 'softmax', batchSize: 16, epochs: 3, onStep: (_s, loss) => void steps.push(loss) });
    check(
      'session-adam epochs',
      r.history.map((h) => h.loss),
      'sessionAdam',
    );
    check('session-adam first steps', steps.slice(0, 3), 'sessionAdamSteps');
    model.dispose();
  });

  it('session-parallel, Adagrad with momentum, BPR-max, with evaluation', async () => {
    const s = sessions();
    const model = new GRU4Rec({ itemCount: s.itemCount, embeddingDim: 8, seed: 4, dropout: 0.2 });
    const r = await trainSessionParallel(model, s, {
      loss: bprMax({ inBatch: true, numNegatives: 12, sampler: { kind: 'popularity', alpha: 0.5 }, bpreg: 0.5 }),
      optimizer: 'adagrad',
      momentum: 0.2,
      batchSize: 16,
      epochs: 3,
      evaluation: { sessions: s, cutoffs: [5] },
    });
    check(
      'session-adagrad epochs',
      r.history.map((h) => h.loss),
      'sessionAdagrad',
    );
    check(
      'session-adagrad recall@5',
      r.history.map((h) => h.eval!['recall@5']),
      'sessionAdagradRecall',
    );
    model.dispose();
  });
});

/** Recorded on the two loops before #16 (commit 662056e), per backend. */
const PINNED: Record<string, Record<string, number[]>> = {
  wasm: {
    windowedSoftmax: [3.918683966000875, 3.8980042139689126, 3.885281483332316],
    windowedSoftmaxNdcg: [0.35831944245609243, 0.35934691291696774, 0.3609482383816898],
    windowedSoftmaxSteps: [3.910343647003174, 3.9348068237304688, 3.9246106147766113],
    windowedBprMax: [0.6946528255939484, 0.6928408245245615],
    sessionAdam: [3.700804049895257, 3.6945008163024733, 3.6901711930079952],
    sessionAdamSteps: [3.6993408203125, 3.7191050052642822, 3.678870677947998],
    sessionAdagrad: [0.6972728999388986, 0.686456506492711, 0.6816147510744944],
    sessionAdagradRecall: [0.21568627450980393, 0.25210084033613445, 0.2969187675070028],
  },
  cpu: {
    windowedSoftmax: [3.918683966000875, 3.898004333178202, 3.885281483332316],
    windowedSoftmaxNdcg: [0.35831944245609243, 0.35934691291696774, 0.3609482383816898],
    windowedSoftmaxSteps: [3.910343885421753, 3.9348065853118896, 3.9246106147766113],
    windowedBprMax: [0.6946527262528738, 0.6928406159083048],
    sessionAdam: [3.7008040592450056, 3.694500789588907, 3.6901711375773454],
    sessionAdamSteps: [3.6993408203125, 3.7191054821014404, 3.678870677947998],
    sessionAdagrad: [0.6972729052816119, 0.6864565061587914, 0.6816147622608003],
    sessionAdagradRecall: [0.21568627450980393, 0.25210084033613445, 0.2969187675070028],
  },
};
