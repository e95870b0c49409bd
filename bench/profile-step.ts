/**
 * Kernel profile of one training step (tf.profile): time per kernel and input shapes, summed,
 * largest first. Wall-clock per kernel, so quote it only from a quiet machine.
 *   node --import tsx bench/profile-step.ts MODEL B L D N
 */
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../src/backend/index.js';
import { Random } from '../src/util/random.js';
import { resolveLoss } from '../src/losses/index.js';
import { buildModel } from '../src/models/registry.js';
import { batchOf } from '../test/helpers.js';
import { FusedAdam } from '../src/train/fused-adam.js';
const [modelName, B, L, D, N] = process.argv.slice(2);
const [b, l, d, n] = [B, L, D, N].map(Number);
await useBackend('wasm');
const rng = new Random(0);
const histories = Array.from({ length: b }, () => Array.from({ length: 1 + rng.int(l) }, () => 1 + rng.int(n)));
const batch = { ...batchOf(histories, l), targets: Int32Array.from({ length: b }, () => 1 + rng.int(n)), users: new Int32Array(b) };
const model = buildModel(modelName, { itemCount: n + 1, embeddingDim: d, maxLen: l, seed: 0 });
const optimizer = new FusedAdam(1e-3);
const lossFn = resolveLoss('softmax');
const step = () => {
  const c = optimizer.minimize(() => model.loss(batch, lossFn), true, model.trainableVariables());
  c!.dataSync();
  c!.dispose();
};
for (let i = 0; i < 3; i++) step();
const t0 = performance.now();
for (let i = 0; i < 5; i++) step();
console.log('step ms', ((performance.now() - t0) / 5).toFixed(1));
const prof = await tf.profile(() => {
  step();
});
const agg = new Map<string, [number, number]>();
for (const k of prof.kernels) {
  const key = k.name + ' ' + JSON.stringify(k.inputShapes);
  const v = agg.get(key) ?? [0, 0];
  v[0] += k.kernelTimeMs as number;
  v[1]++;
  agg.set(key, v);
}
const rows = [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25);
let total = 0;
for (const k of prof.kernels) total += k.kernelTimeMs as number;
console.log('kernel total', total.toFixed(1), 'kernels', prof.kernels.length);
for (const [k, [t, c]] of rows) console.log(t.toFixed(1).padStart(7), String(c).padStart(3), k.slice(0, 150));
