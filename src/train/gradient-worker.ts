/**
 * Worker thread of data-parallel training (src/train/parallel.ts). It holds a replica of the
 * model, takes the latest weights from shared memory when they change, computes the loss
 * gradients for its share of each batch and writes them to shared memory.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../backend/index.js';
import { resolveLoss, type LossName } from '../losses/index.js';
import type { LossFunction } from '../losses/types.js';
import type { BaseRecaller } from '../models/base.js';
import { buildModel } from '../models/registry.js';
import { partGradients, type WorkerInit, type WorkerStep, type WorkerReply } from './parallel-protocol.js';

let model: BaseRecaller;
let lossFn: LossFunction;
let weights: Float32Array;
let grads: Float32Array;
let layout: WorkerInit['layout'];
let version = -1;

function loadWeights(): void {
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const w of layout) values.set(w.name, { shape: w.shape, data: weights.subarray(w.offset, w.offset + w.size) });
  model.setNamedWeights(values);
}

async function init(msg: WorkerInit): Promise<void> {
  // One XNNPACK thread per replica: the replicas are the parallelism here.
  process.env.SEQREC_WASM_THREADS = '1';
  await useBackend(msg.backend);
  model = buildModel(msg.model, msg.config as { itemCount: number });
  lossFn = resolveLoss(msg.loss as LossName);
  weights = new Float32Array(msg.weights);
  grads = new Float32Array(msg.grads);
  layout = msg.layout;
}

function step(msg: WorkerStep): WorkerReply {
  if (msg.version !== version) {
    loadWeights();
    version = msg.version;
  }
  const { loss, grads: g, named } = partGradients(model, msg.batch, lossFn);
  for (let i = 0; i < named.length; i++) {
    const entry = layout[i];
    const grad = g[named[i].variable.name];
    grads.set(grad.dataSync() as Float32Array, entry.offset);
  }
  tf.dispose(Object.values(g));
  return { type: 'done', loss };
}

parentPort!.on('message', (msg: WorkerInit | WorkerStep | { type: 'close' }) => {
  if (msg.type === 'init') {
    init(msg).then(
      () => parentPort!.postMessage({ type: 'ready' } satisfies WorkerReply),
      (err: Error) => parentPort!.postMessage({ type: 'error', message: err.message } satisfies WorkerReply),
    );
  } else if (msg.type === 'step') {
    try {
      parentPort!.postMessage(step(msg));
    } catch (err) {
      parentPort!.postMessage({ type: 'error', message: (err as Error).message } satisfies WorkerReply);
    }
  } else if (msg.type === 'close') {
    model?.dispose();
    parentPort!.close();
  }
});
