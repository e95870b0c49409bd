/**
 * ComiRec-SA training parity, seqrec side (issue #15 item 6). Builds a ComiRec-SA on the
 * peer's export, takes the first `--steps` training batches of epoch 0, and runs full-softmax
 * forward + backward + Adam (dense, what `seqrec bench` uses) on them, dumping for the
 * python driver (bench/parity/comirec_sa.py, which replays the same weights and batches
 * through the peer's own model class and torch.optim.Adam and compares):
 *
 *   OUT/manifest.json          config, weight names/shapes, per-step loss, dumped steps
 *   OUT/batches.json           history/mask/targets of every step
 *   OUT/init/<w>.f32           initial weights (little-endian float32, seqrec's layout)
 *   OUT/step<k>/grad/<w>.f32   gradient of step k (at the weights before step k)
 *   OUT/step<k>/after/<w>.f32  weights after step k
 *
 *   node --import tsx bench/parity-comirec-sa.ts [--split bench/results/amazon-beauty-split.json]
 *     [--out bench/results/parity-sa] [--steps 200] [--dump 1,2,3,5,10,20,50,100,200]
 *     [--eps 1e-7] [--batch 256] [--seed 42] [--init glorot|torch] [--interests 4] [--lr 1e-3]
 *
 * --eps: Adam epsilon of seqrec's side (TF.js's default is 1e-7; torch's and TF1's 1e-8).
 * --init torch: redraw W1, b1, W2 with torch.nn.Linear's defaults (what the peer's model gets)
 *   instead of seqrec's TF-style Glorot kernels and zero bias.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/backend/index.js';
import { Random } from '../src/util/random.js';
import { loadPeerExport } from '../src/data/peer-export.js';
import type { TrainBatch } from '../src/data/types.js';
import { softmaxCrossEntropy } from '../src/losses/softmax.js';
import { ComiRecSA } from '../src/models/comirec-sa.js';
import { uniformArray } from '../src/models/layers/init.js';

const { values: flags } = parseArgs({
  options: Object.fromEntries(
    ['split', 'out', 'steps', 'dump', 'eps', 'batch', 'seed', 'init', 'interests', 'lr'].map((n) => [n, { type: 'string' as const }]),
  ),
  strict: true,
});
const split = resolve(flags.split ?? 'bench/results/amazon-beauty-split.json');
const out = resolve(flags.out ?? 'bench/results/parity-sa');
const steps = Number(flags.steps ?? 200);
const dumpAt = new Set((flags.dump ?? '1,2,3,5,10,20,50,100,200').split(',').map(Number));
const eps = flags.eps === undefined ? null : Number(flags.eps);
const batchSize = Number(flags.batch ?? 256);
const seed = Number(flags.seed ?? 42);
const lr = Number(flags.lr ?? 1e-3);
const init = flags.init ?? 'glorot';
if (init !== 'glorot' && init !== 'torch') throw new Error(`--init glorot|torch, got ${init}`);

await initBackend();
const dataset = await loadPeerExport(split, { protocol: 'comirec', maxLen: 20, seed });
const model = new ComiRecSA({ itemCount: dataset.itemCount, embeddingDim: 64, maxLen: 20, seed, numInterests: Number(flags.interests ?? 4) });
if (init === 'torch') {
  // torch.nn.Linear's defaults, as the peer's model gets: U(±1/sqrt(fan_in)) for W1, b1 and W2
  // (seqrec's and ComiRec's TF dense layers: Glorot kernels, zero bias). Drawn from a seeded
  // stream of seqrec's; the item table and positions keep seqrec's values.
  const rng = new Random(seed + 7);
  const byName = new Map(model.namedWeights().map(({ name, variable }) => [name, variable]));
  const redraw = (name: string, fanIn: number) => {
    const v = byName.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(uniformArray(rng, v.size, 1 / Math.sqrt(fanIn)), v.shape, 'float32')));
  };
  redraw('attention/w1', model.embeddingDim);
  redraw('attention/b1', model.embeddingDim);
  redraw('attention/w2', model.config.attentionDim);
}
const named = model.namedWeights();
const writeAll = (dir: string, tensors: Map<string, tf.Tensor>) => {
  mkdirSync(dir, { recursive: true });
  for (const [name, t] of tensors) writeFileSync(join(dir, name.replace(/\//g, '.') + '.f32'), Buffer.from((t.dataSync() as Float32Array).slice().buffer));
};
writeAll(join(out, 'init'), new Map(named.map(({ name, variable }) => [name, variable])));

const batches: TrainBatch[] = [];
for (const b of dataset.trainBatches(0, batchSize)) {
  batches.push(b);
  if (batches.length === steps) break;
}
// More steps than one epoch has: continue with the next epochs' batches.
for (let epoch = 1; batches.length < steps; epoch++) {
  for (const b of dataset.trainBatches(epoch, batchSize)) {
    batches.push(b);
    if (batches.length === steps) break;
  }
}
writeFileSync(
  join(out, 'batches.json'),
  JSON.stringify(
    batches.map((b) => ({
      batchSize: b.batchSize,
      maxLen: b.maxLen,
      history: Array.from(b.history),
      mask: Array.from(b.mask),
      targets: Array.from(b.targets),
    })),
  ),
);

const optimizer = eps === null ? tf.train.adam(lr) : tf.train.adam(lr, 0.9, 0.999, eps);
const variables = named.map((w) => w.variable);
const losses: number[] = [];
const t0 = performance.now();
for (let k = 1; k <= batches.length; k++) {
  const { value, grads } = tf.variableGrads(() => model.loss(batches[k - 1], softmaxCrossEntropy), variables);
  losses.push(value.dataSync()[0]);
  if (dumpAt.has(k)) writeAll(join(out, `step${k}`, 'grad'), new Map(named.map(({ name, variable }) => [name, grads[variable.name]])));
  optimizer.applyGradients(grads as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
  tf.dispose([value, ...Object.values(grads)]);
  if (dumpAt.has(k)) writeAll(join(out, `step${k}`, 'after'), new Map(named.map(({ name, variable }) => [name, variable])));
}
writeFileSync(
  join(out, 'manifest.json'),
  JSON.stringify(
    {
      split,
      steps: batches.length,
      dumped: [...dumpAt].filter((k) => k <= batches.length).sort((a, b) => a - b),
      batchSize,
      lr,
      adamEpsilon: eps ?? tf.backend().epsilon(),
      init,
      config: model.getConfig(),
      weights: named.map(({ name, variable }) => ({ name, file: name.replace(/\//g, '.') + '.f32', shape: variable.shape })),
      losses,
    },
    null,
    1,
  ),
);
process.stderr.write(
  `seqrec: ${batches.length} steps in ${((performance.now() - t0) / 1000).toFixed(1)} s, loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}; wrote ${out}\n`,
);
