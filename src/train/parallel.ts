/**
 * Data-parallel gradients across CPU cores with worker threads.
 *
 * TF.js's wasm backend runs single-threaded in Node (its threaded build needs browser
 * workers), so one training process uses one core. Here a batch is split into P parts: the
 * main thread computes the gradient of part 0 while P−1 workers, each with a replica of the
 * model, compute theirs; the parts' mean gradients are combined weighted by their row counts,
 * which equals the gradient of the whole batch's mean loss. The optimizer step runs once, on
 * the main thread, and the new weights go to the workers through shared memory.
 *
 * Results are deterministic for a fixed number of parts (each replica has its own seeded
 * stream for dropout and samplers) but not bit-identical to single-threaded training.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { backendReport } from '../backend/index.js';
import { readFloats } from '../backend/memory.js';
import type { TrainBatch } from '../data/types.js';
import { SeqrecError } from '../errors.js';
import type { LossFunction } from '../losses/types.js';
import type { BaseRecaller } from '../models/base.js';
import { partGradients, type WeightLayoutEntry, type WorkerInit, type WorkerReply, type WorkerStep } from './parallel-protocol.js';

/** Rows [start, end) of a training batch, as copies. */
export function sliceBatch(batch: TrainBatch, start: number, end: number): TrainBatch {
  const l = batch.maxLen;
  return {
    batchSize: end - start,
    maxLen: l,
    history: batch.history.slice(start * l, end * l),
    mask: batch.mask.slice(start * l, end * l),
    lengths: batch.lengths.slice(start, end),
    targets: batch.targets.slice(start, end),
    users: batch.users.slice(start, end),
  };
}

/** How many parts to split batches into by default: one per core, at most 4. */
export function defaultParallelism(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** Starts the gradient worker: the compiled .js, or the .ts source through tsx in development. */
function startWorker(): Worker {
  const js = new URL('./gradient-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js);
  // Running from TypeScript sources (tests, tsx): Node 20 does not pass --import hooks on to
  // workers, so the worker registers tsx itself before importing the source.
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = new URL('./gradient-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); });`;
  return new Worker(code, { eval: true });
}

interface Replica {
  worker: Worker;
  grads: Float32Array;
  pending: ((reply: WorkerReply) => void) | null;
}

export class DataParallelGradients {
  readonly parts: number;
  private readonly model: BaseRecaller;
  private readonly layout: WeightLayoutEntry[];
  private readonly weights: Float32Array;
  private readonly replicas: Replica[];
  private version = 0;

  private constructor(model: BaseRecaller, layout: WeightLayoutEntry[], weights: Float32Array, replicas: Replica[]) {
    this.model = model;
    this.layout = layout;
    this.weights = weights;
    this.replicas = replicas;
    this.parts = replicas.length + 1;
  }

  /** Starts `parts − 1` workers with replicas of `model`, trained with the loss named `loss`. */
  static async start(model: BaseRecaller, loss: string, parts: number): Promise<DataParallelGradients> {
    if (!Number.isInteger(parts) || parts < 2) throw new SeqrecError('invalid_config', `parallel parts must be an integer >= 2, got ${parts}`);
    const layout: WeightLayoutEntry[] = [];
    let total = 0;
    for (const { name, variable } of model.namedWeights()) {
      layout.push({ name, shape: variable.shape.slice(), size: variable.size, offset: total });
      total += variable.size;
    }
    const weights = new Float32Array(new SharedArrayBuffer(total * 4));
    const backend = backendReport()?.name ?? tf.getBackend();
    const replicas: Replica[] = [];
    for (let p = 1; p < parts; p++) {
      const grads = new Float32Array(new SharedArrayBuffer(total * 4));
      const worker = startWorker();
      const replica: Replica = { worker, grads, pending: null };
      worker.on('message', (reply: WorkerReply) => {
        const resolve = replica.pending;
        replica.pending = null;
        resolve?.(reply);
      });
      worker.on('error', (err) => {
        const resolve = replica.pending;
        replica.pending = null;
        resolve?.({ type: 'error', message: err.message });
      });
      replicas.push(replica);
    }
    // Replicas are rebuilt from the config with a different seed: their own dropout and
    // sampling streams. Their weights come from shared memory before the first step.
    const config = model.getConfig() as Record<string, unknown>;
    const dp = new DataParallelGradients(model, layout, weights, replicas);
    await Promise.all(
      replicas.map((r, i) =>
        dp.request(r, (w) =>
          w.postMessage({
            type: 'init',
            backend,
            model: model.name,
            config: { ...config, seed: Number(config.seed ?? 0) + 1000 * (i + 1) },
            loss,
            layout,
            weights: weights.buffer as SharedArrayBuffer,
            grads: r.grads.buffer as SharedArrayBuffer,
          } satisfies WorkerInit),
        ),
      ),
    );
    dp.publishWeights();
    return dp;
  }

  private request(replica: Replica, send: (w: Worker) => void): Promise<WorkerReply> {
    return new Promise<WorkerReply>((resolve, reject) => {
      replica.pending = (reply) => (reply.type === 'error' ? reject(new SeqrecError('invalid_config', `gradient worker: ${reply.message}`)) : resolve(reply));
      send(replica.worker);
    });
  }

  /** Copies the model's current weights to shared memory; call after every optimizer step. */
  publishWeights(): void {
    const named = this.model.namedWeights();
    for (let i = 0; i < named.length; i++) this.weights.set(readFloats(named[i].variable), this.layout[i].offset);
    this.version++;
  }

  /**
   * Mean loss and gradients of `batch` (keyed by variable name, as optimizers expect),
   * computed in parallel. The caller owns (and disposes) the returned tensors.
   */
  async compute(batch: TrainBatch, lossFn: LossFunction): Promise<{ loss: number; grads: tf.NamedTensorMap }> {
    const b = batch.batchSize;
    const bounds = Array.from({ length: this.parts + 1 }, (_, p) => Math.round((p * b) / this.parts));
    const sizes = bounds.slice(1).map((e, p) => e - bounds[p]);
    const replies = this.replicas.map((r, i) => {
      const part = sliceBatch(batch, bounds[i + 1], bounds[i + 2]);
      if (part.batchSize === 0) return Promise.resolve<WorkerReply>({ type: 'done', loss: 0 });
      return this.request(r, (w) => w.postMessage({ type: 'step', version: this.version, batch: part } satisfies WorkerStep));
    });
    const { loss: ownLoss, grads, named } = partGradients(this.model, sliceBatch(batch, 0, bounds[1]), lossFn);
    const done = await Promise.all(replies);
    let loss = (ownLoss * sizes[0]) / b;
    done.forEach((r, i) => {
      if (r.type === 'done') loss += (r.loss * sizes[i + 1]) / b;
    });
    const combined: tf.NamedTensorMap = {};
    for (let v = 0; v < named.length; v++) {
      const { variable } = named[v];
      const { offset, size } = this.layout[v];
      const mine = grads[variable.name] as tf.Tensor | undefined;
      // A variable the loss does not touch has no gradient: treat it as zero.
      const out = mine ? readFloats(mine).slice() : new Float32Array(size);
      const w0 = sizes[0] / b;
      for (let k = 0; k < size; k++) out[k] *= w0;
      this.replicas.forEach((r, i) => {
        const wi = sizes[i + 1] / b;
        if (wi === 0) return;
        const theirs = r.grads.subarray(offset, offset + size);
        for (let k = 0; k < size; k++) out[k] += wi * theirs[k];
      });
      mine?.dispose();
      combined[variable.name] = tf.tensor(out, variable.shape, 'float32');
    }
    return { loss, grads: combined };
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
  }
}
