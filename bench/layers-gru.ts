/**
 * Why seqrec does not build on @tensorflow/tfjs-layers (docs/install.md): one GRU layer's
 * forward + backward at GRU4Rec's training shape, tfjs-layers' `tf.layers.gru` against
 * seqrec's fused GRU op (src/ops/gru-sequence.ts) with the same input projection, same backend.
 *
 *   npm install --no-save @tensorflow/tfjs-layers@4.22.0 && SEQREC_WASM_THREADS=1 node --import tsx bench/layers-gru.ts
 *
 * Env: BENCH_SHAPE "256x20x64" (B x L x D), BENCH_STEPS (10, median after 2 warm-ups).
 */
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, reportBackendOnce } from '../src/backend/index.js';
import { gruSequence } from '../src/ops/gru-sequence.js';
import { median } from './stats.js';

const [B, L, D] = (process.env.BENCH_SHAPE ?? '256x20x64').split('x').map(Number);
const steps = Number(process.env.BENCH_STEPS ?? 10);
await initBackend();
reportBackendOnce((l) => process.stderr.write(l + '\n'));
// Loaded by name so the type check does not need the package.
const layersName = '@tensorflow/tfjs-layers';
const tfl = (await import(layersName)) as {
  layers: { gru(o: Record<string, unknown>): { apply(x: tf.Tensor): tf.Tensor; trainableWeights: { read(): tf.Variable }[] } };
};

const x = tf.randomNormal([B, L, D]);
// tfjs-layers has no reset-after GRU (it throws 'GRUCell does not support reset_after'): its cell is
// the reset-before layout, so it could not even express seqrec's (PyTorch's) GRU; timed as is.
const layer = tfl.layers.gru({ units: D, returnSequences: true, recurrentActivation: 'sigmoid' });
layer.apply(x); // builds the weights
const layerVars = layer.trainableWeights.map((w) => w.read());
const wx = tf.variable(tf.randomNormal([D, 3 * D], 0, 0.1)) as tf.Variable<tf.Rank.R2>;
const bx = tf.variable(tf.zeros([3 * D])) as tf.Variable<tf.Rank.R1>;
const wh = tf.variable(tf.randomNormal([D, 3 * D], 0, 0.1)) as tf.Variable<tf.Rank.R2>;
const bh = tf.variable(tf.zeros([3 * D])) as tf.Variable<tf.Rank.R1>;
const mask = tf.ones([B, L]) as tf.Tensor2D;

function time(f: () => tf.Scalar, vars: tf.Variable[]): number {
  const ms: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(f, vars);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    if (i >= 2) ms.push(performance.now() - t0);
  }
  return median(ms);
}

const layersMs = time(() => tf.sum(layer.apply(x)) as tf.Scalar, layerVars);
const seqrecMs = time(() => {
  const xProj = tf.add(tf.reshape(tf.matMul(tf.reshape(x, [B * L, D]), wx), [B, L, 3 * D]), bx) as tf.Tensor3D;
  return tf.sum(gruSequence(xProj, mask, wh, bh));
}, [wx, bx, wh, bh]);
console.log(
  JSON.stringify({
    shape: `${B}x${L}x${D}`,
    backend: tf.getBackend(),
    cpu: cpus()[0]?.model,
    steps,
    tfjsLayersGruMs: +layersMs.toFixed(1),
    seqrecGruMs: +seqrecMs.toFixed(1),
    ratio: +(layersMs / seqrecMs).toFixed(2),
  }),
);
