/**
 * How small are each model's gradients next to Adam's epsilon? Trains every model for `--steps`
 * full-softmax Adam steps (TF.js defaults) on the first batches of a peer export and prints,
 * per weight, the median |g| per element and the share of elements with |g| < 1e-7 (TF.js's
 * epsilon) and < 1e-8 (torch's) at the last step. With |g| ≲ ε Adam's step shrinks to about
 * |g| / (|g| + ε) of a full step.
 *
 *   SEQREC_WASM_THREADS=1 node --import tsx bench/parity/gradient-scale.ts [--split bench/results/amazon-beauty-split.json]
 *     [--steps 50] [--models gru4rec,youtubednn,mind,comirec-dr,comirec-sa]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/backend/index.js';
import { loadPeerExport } from '../../src/data/peer-export.js';
import type { TrainBatch } from '../../src/data/types.js';
import { softmaxCrossEntropy } from '../../src/losses/softmax.js';
import { buildModel } from '../../src/models/registry.js';

const { values: flags } = parseArgs({ options: { split: { type: 'string' }, steps: { type: 'string' }, models: { type: 'string' } }, strict: true });
await initBackend();
const dataset = await loadPeerExport(flags.split ?? 'bench/results/amazon-beauty-split.json', { protocol: 'comirec', maxLen: 20, seed: 42 });
const steps = Number(flags.steps ?? 50);
const batches: TrainBatch[] = [];
for (let epoch = 0; batches.length < steps; epoch++) {
  for (const b of dataset.trainBatches(epoch, 256)) if (batches.length < steps) batches.push(b);
}
const median = (a: Float32Array) => {
  const s = Float32Array.from(a, Math.abs).sort();
  return s[Math.floor(s.length / 2)];
};
console.log(`| model | weight | median |g| at step ${steps} | share < 1e-7 | share < 1e-8 |\n|---|---|---|---|---|`);
for (const name of (flags.models ?? 'gru4rec,youtubednn,mind,comirec-dr,comirec-sa').split(',')) {
  const model = buildModel(name, { itemCount: dataset.itemCount, embeddingDim: 64, maxLen: 20, seed: 42 });
  const named = model.namedWeights();
  const optimizer = tf.train.adam(1e-3);
  for (let k = 0; k < steps; k++) {
    const { value, grads } = tf.variableGrads(
      () => model.loss(batches[k], softmaxCrossEntropy),
      named.map((w) => w.variable),
    );
    if (k === steps - 1) {
      for (const { name: w, variable } of named) {
        const g = grads[variable.name].dataSync() as Float32Array;
        const small = (eps: number) => g.reduce((n, x) => n + (Math.abs(x) < eps ? 1 : 0), 0) / g.length;
        console.log(`| ${name} | ${w} | ${median(g).toExponential(1)} | ${small(1e-7).toFixed(2)} | ${small(1e-8).toFixed(2)} |`);
      }
    }
    optimizer.applyGradients(grads as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
    tf.dispose([value, ...Object.values(grads)]);
  }
  optimizer.dispose();
  model.dispose();
}
