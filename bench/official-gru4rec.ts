/**
 * `npm run bench:official`: GRU4Rec with an official tuned preset (`--preset
 * gru4rec-official-<dataset>`, src/cli/presets.ts) on session data, session-parallel, with the
 * test sessions evaluated after EVERY epoch (next item ranked against all items, ties
 * 'standard', the official run.py's default). One JSON line per epoch is appended to BENCH_OUT
 * as it finishes, so a stopped run still leaves every finished epoch's row.
 *
 * Env: BENCH_PRESET (gru4rec-official-diginetica), BENCH_TRAIN / BENCH_TEST
 * (../shared/data/diginetica/{train,test}.txt), BENCH_EPOCHS (the preset's), BENCH_DIM (the
 * preset's layer size), BENCH_SEED (42), BENCH_OUT (bench/results/official-<preset>.jsonl).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { initBackend, reportBackendOnce } from '../src/backend/index.js';
import { GRU4REC_OFFICIAL_PRESETS, presetLoss, presetModel, type Gru4RecPresetName } from '../src/cli/presets.js';
import { loadSessions } from '../src/data/session-parallel.js';
import { GRU4Rec } from '../src/models/gru4rec.js';
import { trainSessionParallel } from '../src/train/session-parallel.js';

const env = process.env;
const name = (env.BENCH_PRESET ?? 'gru4rec-official-diginetica') as Gru4RecPresetName;
const preset = GRU4REC_OFFICIAL_PRESETS[name];
if (!preset) throw new Error(`BENCH_PRESET: no preset ${name}; one of ${Object.keys(GRU4REC_OFFICIAL_PRESETS).join(', ')}`);
const trainPath = resolve(env.BENCH_TRAIN ?? '../shared/data/diginetica/train.txt');
const testPath = resolve(env.BENCH_TEST ?? '../shared/data/diginetica/test.txt');
const epochs = Number(env.BENCH_EPOCHS ?? preset.epochs);
const dim = Number(env.BENCH_DIM ?? preset.hidden);
const out = resolve(env.BENCH_OUT ?? `bench/results/official-${name}.jsonl`);
const log = (line: string) => process.stderr.write(`${line}\n`);

await initBackend();
reportBackendOnce(log);
const { train, test } = await loadSessions(trainPath, testPath);
log(`${name} (${preset.paramfile}) D ${dim}, ${epochs} epochs; ${train.count} sessions, ${train.pairs()} training pairs; ${test!.pairs()} test events`);
const model = new GRU4Rec({
  itemCount: train.itemCount,
  ...presetModel(preset),
  embeddingDim: dim,
  hiddenDim: dim,
  maxLen: 20,
  seed: Number(env.BENCH_SEED ?? 42),
});
mkdirSync(dirname(out), { recursive: true });
const cpu = cpus()[0]?.model ?? 'unknown';
let t = performance.now();
await trainSessionParallel(model, train, {
  loss: presetLoss(preset),
  batchSize: preset.batchSize,
  epochs,
  optimizer: 'adagrad',
  learningRate: preset.learningRate,
  momentum: preset.momentum,
  evaluation: { sessions: test!, cutoffs: [5, 10, 20] },
  log,
  onStep: (step) => {
    if (step % 500 === 0) {
      const now = performance.now();
      log(`  step ${step}: ${((now - t) / 500).toFixed(1)} ms/step`);
      t = now;
    }
  },
  onEpochEnd: (r) => {
    appendFileSync(out, JSON.stringify({ preset: name, dim, cpu, train: trainPath, test: testPath, ...r }) + '\n');
  },
});
log(`wrote ${out}`);
model.dispose();
