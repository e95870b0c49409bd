/**
 * SASRec's training-speed measurement in a fresh process: the Trainer's step (AdamStep,
 * forward + backward + Adam) with a loss at EVERY position (SASRec.sequenceLoss) on FULL windows
 * (all B·L positions real and scored), the recipe of the peer's `python3 -m peer_torch bench
 * --models sasrec` (2 blocks, 1 head, dropout 0.2). LOSS is `softmax` (full; the peer's ML-1M
 * shape B 128, L 200, D 64, N 3,416) or `sampled` (sampled softmax with NEG uniform negatives
 * shared by the batch, the item table row-sparse as the Trainer trains it; the peer's Beauty
 * shape B 128, L 50, N 12,101, 256 negatives) or `gbce` (NEG uniform negatives per position,
 * the table dense, as the peer's `--loss gbce`). Prints bench/train-step.ts's JSON fields plus
 * positions_per_step and positions_per_second.
 *
 *   SEQREC_WASM_THREADS=1 node --import tsx bench/sasrec-step.ts BACKEND B L D N STEPS [LOSS] [NEG] [BLOCKS] [HEADS] [DROPOUT]
 *
 * (bench/train-step.ts times the single-target models; kept separate so that file's
 * optimizer line stays its owner's.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/backend/index.js';
import type { TrainBatch } from '../src/data/types.js';
import { SASRec } from '../src/models/sasrec.js';
import { Random } from '../src/util/random.js';
import { createLoss } from '../src/losses/index.js';
import { AdamStep, resolveItemGradients } from '../src/train/step.js';

const [backend, B, L, D, N, STEPS, LOSS = 'softmax', NEG = '256', BLOCKS = '2', HEADS = '1', DROPOUT = '0.2'] = process.argv.slice(2);
const [b, l, d, n, steps, negatives, blocks, heads, dropout] = [B, L, D, N, STEPS, NEG, BLOCKS, HEADS, DROPOUT].map(Number);
if (!['softmax', 'sampled', 'gbce'].includes(LOSS)) throw new Error(`LOSS must be softmax, sampled or gbce, got '${LOSS}'`);
await useBackend(backend);
const rng = new Random(0);
// Full windows: every slot real, so the cost does not depend on padding.
const batch: TrainBatch = {
  batchSize: b,
  maxLen: l,
  history: Int32Array.from({ length: b * l }, () => 1 + rng.int(n)),
  mask: new Float32Array(b * l).fill(1),
  lengths: new Int32Array(b).fill(l),
  targets: Int32Array.from({ length: b }, () => 1 + rng.int(n)),
  users: Int32Array.from({ length: b }, (_, i) => i),
};
const model = new SASRec({ itemCount: n + 1, embeddingDim: d, maxLen: l, numBlocks: blocks, numHeads: heads, dropout, seed: 0 });
const lossName = LOSS === 'softmax' ? 'softmax' : LOSS === 'gbce' ? 'gbce' : 'sampled-softmax';
const lossFn =
  LOSS === 'softmax'
    ? createLoss('softmax')
    : LOSS === 'gbce'
      ? createLoss('gbce', { numNegatives: negatives, sharing: 'row' })
      : createLoss('sampled-softmax', { numNegatives: negatives, sampler: { kind: 'uniform' } });
// gBCE per position as the peer trains it: the table dense, so a small catalogue is one score matrix.
const itemGradients = LOSS === 'gbce' ? 'dense' : resolveItemGradients('auto', lossName);
const trainer = new AdamStep(model, lossFn, { learningRate: 1e-3, itemGradients, targets: 'every' });
const step = () => trainer.run(batch);
const warmup = 3;
const times: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const t0 = performance.now();
  step();
  if (i >= warmup) times.push(performance.now() - t0);
}
times.sort((x, y) => x - y);
const median = times[Math.floor(times.length / 2)];
console.log(
  JSON.stringify({
    backend,
    parts: 1,
    model: 'sasrec',
    B: b,
    L: l,
    D: d,
    N: n,
    loss: LOSS,
    n_neg: LOSS === 'softmax' ? null : negatives,
    blocks,
    heads,
    dropout,
    steps,
    median_ms_per_step: +median.toFixed(2),
    min_ms: +times[0].toFixed(2),
    max_ms: +times[times.length - 1].toFixed(2),
    samples_per_second: +((b * 1000) / median).toFixed(1),
    positions_per_step: b * l,
    positions_per_second: +((b * l * 1000) / median).toFixed(1),
    wasm_threads: process.env.SEQREC_WASM_THREADS ?? null,
    peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    tensors: tf.memory().numTensors,
  }),
);
