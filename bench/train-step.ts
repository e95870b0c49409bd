/**
 * One training-speed measurement in a fresh process (so the backend and peak RSS are its own):
 * forward + backward + Adam with full softmax on random histories with random lengths 1..L,
 * the same recipe as the peer's micro-benchmark. Prints one JSON line.
 *
 *   node --import tsx bench/train-step.ts BACKEND MODEL B L D N STEPS [PARTS]
 *
 * PARTS > 1 splits each batch over that many cores (the Trainer's data-parallel path).
 */
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/backend/index.js';
import { Random } from '../src/util/random.js';
import { resolveLoss } from '../src/losses/index.js';
import { buildModel } from '../src/models/registry.js';
import { FusedAdam } from '../src/train/fused-adam.js';
import { DataParallelGradients } from '../src/train/parallel.js';
import { batchOf } from '../test/helpers.js';

const [backend, modelName, B, L, D, N, STEPS, PARTS = '1'] = process.argv.slice(2);
const parts = Number(PARTS);
const [b, l, d, n, steps] = [B, L, D, N, STEPS].map(Number);
await useBackend(backend);
const rng = new Random(0);
const histories = Array.from({ length: b }, () => Array.from({ length: 1 + rng.int(l) }, () => 1 + rng.int(n)));
const batch = { ...batchOf(histories, l), targets: Int32Array.from({ length: b }, () => 1 + rng.int(n)), users: new Int32Array(b) };
const model = buildModel(modelName, { itemCount: n + 1, embeddingDim: d, maxLen: l, seed: 0 });
// The Trainer's dense Adam (native kernel where loaded; SEQREC_NATIVE=0 for the JavaScript loop).
const optimizer = new FusedAdam(1e-3);
const parallel = parts > 1 ? await DataParallelGradients.start(model, 'softmax', parts) : null;
const lossFn = resolveLoss('softmax');
const step = async () => {
  if (parallel) {
    const { grads } = await parallel.compute(batch, lossFn);
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    parallel.publishWeights();
    return;
  }
  const cost = optimizer.minimize(() => model.loss(batch, lossFn), true, model.trainableVariables());
  cost!.dataSync();
  cost!.dispose();
};
const warmup = 3;
const times: number[] = [];
for (let i = 0; i < warmup + steps; i++) {
  const t0 = performance.now();
  await step();
  if (i >= warmup) times.push(performance.now() - t0);
}
times.sort((x, y) => x - y);
const median = times[Math.floor(times.length / 2)];
console.log(
  JSON.stringify({
    backend,
    parts,
    model: modelName,
    B: b,
    L: l,
    D: d,
    N: n,
    steps,
    median_ms_per_step: +median.toFixed(2),
    min_ms: +times[0].toFixed(2),
    max_ms: +times[times.length - 1].toFixed(2),
    samples_per_second: +((b * 1000) / median).toFixed(1),
    peak_rss_mb: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    tensors: tf.memory().numTensors,
  }),
);
await parallel?.close();
