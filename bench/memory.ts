/**
 * `npm run bench:memory`: tensor count, TF.js bytes, RSS and JS heap over many training steps
 * (GRU4Rec, full softmax, Adam), to show that memory does not grow with training time.
 * Env: STEPS (1000), B (64), L (20), N (3706), MODEL (gru4rec).
 */
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { Random } from '../src/util/random.js';
import { buildModel } from '../src/models/registry.js';
import { randomTrainBatch } from '../test/helpers.js';

const env = process.env;
const [steps, b, l, n] = [env.STEPS ?? '1000', env.B ?? '64', env.L ?? '20', env.N ?? '3706'].map(Number);
await initBackend();
const model = buildModel(env.MODEL ?? 'gru4rec', { itemCount: n + 1, embeddingDim: 64, maxLen: l, seed: 0 });
const optimizer = tf.train.adam(1e-3);
const rng = new Random(0);
const rows: string[] = ['| step | tensors | TF.js MB | RSS MB | JS heap MB |', '|---|---|---|---|---|'];
const checkpoints = new Set([1, 10, Math.round(steps / 4), Math.round(steps / 2), steps]);
for (let step = 1; step <= steps; step++) {
  const batch = randomTrainBatch(rng, b, l, n + 1);
  const cost = optimizer.minimize(() => model.loss(batch), true, model.trainableVariables());
  cost!.dispose();
  if (checkpoints.has(step)) {
    const m = tf.memory();
    const mu = process.memoryUsage();
    rows.push(
      `| ${step} | ${m.numTensors} | ${(m.numBytes / 2 ** 20).toFixed(1)} | ${(mu.rss / 2 ** 20).toFixed(0)} | ${(mu.heapUsed / 2 ** 20).toFixed(0)} |`,
    );
  }
}
console.log(`${env.MODEL ?? 'gru4rec'}, B ${b}, L ${l}, N ${n}, ${steps} steps on ${tf.getBackend()}\n\n${rows.join('\n')}`);
