/**
 * `npm run bench:sampled-adam`: ComiRec's sampled softmax (`comirec-sampled`: 10·B shared
 * log-uniform ids, unique, logQ) trained with dense Adam (every row's moments decay and every
 * row moves each step, as TF1's AdamOptimizer in ComiRec) and with row-wise Adam (only the rows
 * a batch touches), on the PyTorch peer's exported split, everything else as bench:peer's
 * ComiRec-SA run. One JSON line per run appended to BENCH_OUT as it finishes.
 *
 * Env: BENCH_SPLIT (bench/results/amazon-beauty-split.json, written by bench:peer),
 * BENCH_MODEL (comirec-sa), BENCH_MODES ("dense,sparse"), BENCH_SEED (42), BENCH_EPOCHS (30),
 * BENCH_OUT (bench/results/sampled-adam.jsonl). Runs the modes one after the other; start one
 * process per mode (BENCH_MODES=dense / sparse) to use two cores.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { initBackend, reportBackendOnce } from '../src/backend/index.js';
import { loadPeerExport } from '../src/data/peer-export.js';
import { createModel } from '../src/models/registry.js';
import { evaluateModel } from '../src/train/evaluate.js';
import { Trainer } from '../src/train/trainer.js';

const env = process.env;
const split = resolve(env.BENCH_SPLIT ?? 'bench/results/amazon-beauty-split.json');
const modelName = env.BENCH_MODEL ?? 'comirec-sa';
const modes = (env.BENCH_MODES ?? 'dense,sparse').split(',') as ('dense' | 'sparse')[];
const seed = Number(env.BENCH_SEED ?? 42);
const epochs = Number(env.BENCH_EPOCHS ?? 30);
const out = resolve(env.BENCH_OUT ?? 'bench/results/sampled-adam.jsonl');
const log = (line: string) => process.stderr.write(`${line}\n`);
const ns = [10, 20, 50];

await initBackend();
reportBackendOnce(log);
const dataset = await loadPeerExport(split, { protocol: 'comirec', maxLen: 20, seed, samplesPerUser: 1 });
mkdirSync(dirname(out), { recursive: true });
for (const itemGradients of modes) {
  // bench:peer's like-for-like multi-interest settings (hard readout, p = 2).
  const model = createModel(modelName as 'comirec-sa', {
    itemCount: dataset.itemCount,
    embeddingDim: 64,
    maxLen: 20,
    seed,
    numInterests: 4,
    readout: 'hard',
    readoutPower: 2,
  });
  log(`--- ${modelName}, comirec-sampled, ${itemGradients} Adam`);
  const trainer = new Trainer(model, {
    loss: 'comirec-sampled',
    itemGradients,
    learningRate: 1e-3,
    batchSize: 256,
    epochs,
    patience: 5,
    evaluation: { ns },
    log,
  });
  const fit = await trainer.fit(dataset);
  const test = evaluateModel(model, dataset, 'test', { ns });
  const trainSeconds = fit.history.reduce((s, r) => s + r.trainSeconds, 0);
  appendFileSync(
    out,
    JSON.stringify({
      model: modelName,
      loss: 'comirec-sampled',
      itemGradients,
      seed,
      cpu: cpus()[0]?.model,
      epochs: fit.history.length,
      bestEpoch: fit.bestEpoch,
      secondsPerEpoch: trainSeconds / fit.history.length,
      valid: fit.bestValid,
      test,
    }) + '\n',
  );
  log(`  ${itemGradients}: test recall@50 ${test['recall@50'].toFixed(4)} (${fit.history.length} epochs, best ${fit.bestEpoch})`);
  model.dispose();
}
