/**
 * `seqrec bench`: trains each requested model with early stopping on one dataset and protocol,
 * evaluates it on the test users, and writes one JSON line per run plus a Markdown table.
 * With `--split FILE` (the PyTorch peer's export) seqrec uses the peer's exact sequences and
 * user split, so the two can be compared on identical data.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceDataset } from '../../data/dataset.js';
import { loadPeerExport } from '../../data/peer-export.js';
import { SeqrecError } from '../../errors.js';
import type { MetricReport } from '../../metrics/index.js';
import { ItemKNN } from '../../models/knn/item-knn.js';
import { SessionKNN } from '../../models/knn/session-knn.js';
import { interestSimilarity } from '../../models/layers/attention.js';
import type { MultiInterestRecaller } from '../../models/multi-interest.js';
import { MODELS, modelFactory } from '../../models/registry.js';
import { evaluateModel, evaluatePopularity } from '../../train/evaluate.js';
import { Trainer } from '../../train/trainer.js';
import { defineCommand, type Log } from '../command.js';
import { buildDataset, dataSettings } from '../dataset.js';
import { int, num, parseStringFlags, str, type FlagValues, type StringFlags } from '../flags.js';
import { runContext, writeRunRecord } from '../run-records.js';
import { BACKEND_FLAGS, DEFAULT_DIM, EXCLUDE_FLAG, OPTIONAL_DATA_FLAGS, RUNS_FLAG, SIMILARITY_FLAG, TRAINING_FLAGS } from '../shared-flags.js';

/** The neighbourhood baselines: fitted on the co-occurrences, no training loop. */
const NEIGHBOURHOOD_MODELS = {
  itemknn: (dataset: SequenceDataset) => ItemKNN.fit(dataset),
  sknn: (dataset: SequenceDataset) => SessionKNN.fit(dataset),
} as const;

export const BENCH_MODEL_NAMES = ['mostpopular', ...Object.keys(NEIGHBOURHOOD_MODELS), ...Object.keys(MODELS)];

export const BENCH_FLAGS = {
  ...OPTIONAL_DATA_FLAGS,
  split: str("the PyTorch peer's export: its exact sequences and user split instead of --data", { placeholder: 'file' }),
  models: str(`comma-separated models to run: ${BENCH_MODEL_NAMES.join(', ')}`, { default: 'gru4rec', placeholder: 'list' }),
  ...TRAINING_FLAGS,
  batch: int('batch size', { min: 1, default: 256 }),
  lr: num('learning rate', { default: 1e-3 }),
  epochs: int('maximum epochs', { min: 1, default: 30 }),
  interests: int('interests K of the multi-interest models', { min: 1, default: 4 }),
  ...SIMILARITY_FLAG,
  ...EXCLUDE_FLAG,
  ...RUNS_FLAG,
  parallelism: int('parallel training workers (default: auto)', { min: 1 }),
  diversity: num('add W x mean pairwise cosine of the interests to the loss (multi-interest models)', { default: 0, placeholder: 'w' }),
  sharpen: num('squash (|s|²/(1+|s|²))^P · s/|s| in MIND and ComiRec-DR (against collapsed interests)', { default: 1, placeholder: 'p' }),
  out: str('append one JSON line per run to this file', { placeholder: 'file' }),
  md: str('write the Markdown table to this file', { placeholder: 'file' }),
  ...BACKEND_FLAGS,
} as const;

export type BenchValues = FlagValues<typeof BENCH_FLAGS>;

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'train and test several models on one split: a JSON line per run and a Markdown table',
  usage: '--data FILE | --split PEER_EXPORT.json [flags]',
  flags: BENCH_FLAGS,
  backend: true,
  run: async (values, log) => {
    await bench(values, log);
  },
});

export interface BenchRun {
  data: string;
  protocol: 'comirec' | 'loo';
  model: string;
  loss: string;
  hyperparameters: Record<string, unknown>;
  epochs: number;
  bestEpoch: number;
  stoppedBy: string;
  secondsPerEpoch: number;
  samplesPerSecond: number;
  valid: MetricReport;
  test: MetricReport;
  secondsTotal: number;
  /** Multi-interest models: mean pairwise cosine between a test user's interests (1 = collapsed). */
  interestCosine?: number;
}

const NS = [10, 20, 50];

/**
 * `modelOptions[name]` is merged into that model's config (after the flags). The CLI passes
 * none; bench/peer.ts uses it to give seqrec the peer's settings (e.g. MIND's readout and
 * routing-logit init) without a CLI flag per model option.
 */
export async function runBench(
  flags: StringFlags,
  log: Log,
  modelOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {},
): Promise<BenchRun[]> {
  return bench(parseStringFlags(BENCH_FLAGS, flags, 'bench'), log, modelOptions);
}

async function bench(values: BenchValues, log: Log, modelOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {}): Promise<BenchRun[]> {
  const { protocol, maxLen, seed, samplesPerUser } = values;
  const names = values.models
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const isNeighbourhood = (n: string): n is keyof typeof NEIGHBOURHOOD_MODELS => Object.hasOwn(NEIGHBOURHOOD_MODELS, n);
  const models = names.filter((n) => n !== 'mostpopular' && !isNeighbourhood(n));
  models.forEach((n) => modelFactory(n)); // unknown names fail before any training
  let dataset: SequenceDataset;
  let dataName: string;
  if (values.split) {
    dataset = await loadPeerExport(values.split, { protocol, maxLen, seed, samplesPerUser });
    dataName = values.data ?? values.split;
    const d = dataset.describe();
    log(`peer split ${values.split}: ${d.users} users, ${d.items} items, ${d.interactions} interactions; ${d.trainUsers}/${d.validUsers}/${d.testUsers}`);
  } else {
    const data = values.data;
    if (data === undefined) throw new SeqrecError('invalid_argument', '--data FILE or --split PEER_EXPORT.json is required', { field: 'data' });
    const settings = dataSettings({ ...values, data });
    dataset = await buildDataset(settings, log, { skipMalformed: values.skipMalformed, engine: values.engine });
    dataName = settings.data;
  }
  const hyper = {
    dim: values.dim ?? DEFAULT_DIM,
    maxLen,
    interests: values.interests,
    batch: values.batch,
    lr: values.lr,
    epochs: values.epochs,
    patience: values.patience,
    samplesPerUser,
    seed,
    similarity: values.similarity,
    parallelism: values.parallelism ?? ('auto' as const),
    // Remedies for interests that collapse onto each other (multi-interest models only).
    diversityWeight: values.diversity,
    sharpenPower: values.sharpen,
  };
  const runs: BenchRun[] = [];
  const emit = async (run: BenchRun) => {
    runs.push(run);
    if (values.out) {
      await mkdir(dirname(values.out), { recursive: true });
      await appendFile(values.out, JSON.stringify(run) + '\n');
    }
    if (values.runsDir !== 'none') {
      const startedAt = new Date(Date.now() - run.secondsTotal * 1000);
      await writeRunRecord(values.runsDir, {
        command: 'bench',
        ...(await runContext(values.split ?? dataName, startedAt)),
        model: run.model,
        config: { protocol, data: dataName, loss: run.loss, hyperparameters: run.hyperparameters },
        epochs: run.epochs,
        bestEpoch: run.bestEpoch,
        stoppedBy: run.stoppedBy,
        seconds: run.secondsTotal,
        valid: run.valid,
        test: run.test,
      });
    }
  };
  const evaluation = { ns: NS, similarity: hyper.similarity, exclude: values.exclude };
  if (names.includes('mostpopular')) {
    await emit({
      data: dataName,
      protocol,
      model: 'mostpopular',
      loss: '-',
      hyperparameters: {},
      epochs: 0,
      bestEpoch: 0,
      stoppedBy: '-',
      secondsPerEpoch: 0,
      samplesPerSecond: 0,
      valid: evaluatePopularity(dataset, 'valid', { ns: NS }),
      test: evaluatePopularity(dataset, 'test', { ns: NS }),
      secondsTotal: 0,
    });
  }
  for (const name of names.filter(isNeighbourhood)) {
    const t0 = performance.now();
    const model = NEIGHBOURHOOD_MODELS[name](dataset);
    const fitSeconds = (performance.now() - t0) / 1000;
    log(`--- ${name}: fitted in ${fitSeconds.toFixed(1)} s`);
    await emit({
      data: dataName,
      protocol,
      model: name,
      loss: '-',
      hyperparameters: { ...model.config },
      epochs: 0,
      bestEpoch: 0,
      stoppedBy: '-',
      secondsPerEpoch: 0,
      samplesPerSecond: 0,
      valid: evaluateModel(model, dataset, 'valid', evaluation),
      test: evaluateModel(model, dataset, 'test', evaluation),
      secondsTotal: (performance.now() - t0) / 1000,
    });
  }
  for (const name of models) {
    const t0 = performance.now();
    const factory = modelFactory(name);
    const model = factory.create({
      itemCount: dataset.itemCount,
      embeddingDim: hyper.dim,
      maxLen,
      seed,
      ...(factory.multiInterest ? { numInterests: hyper.interests, diversityWeight: hyper.diversityWeight } : {}),
      ...(hyper.sharpenPower !== 1 && factory.capabilities.routing ? { sharpenPower: hyper.sharpenPower } : {}),
      ...(Object.hasOwn(modelOptions, name) ? modelOptions[name] : {}),
    });
    log(`--- ${name}`);
    const trainer = new Trainer(model, {
      learningRate: hyper.lr,
      batchSize: hyper.batch,
      epochs: hyper.epochs,
      patience: hyper.patience,
      monitor: values.monitor,
      evaluation,
      parallelism: hyper.parallelism,
      log,
    });
    const fit = await trainer.fit(dataset);
    const trainSeconds = fit.history.reduce((s, r) => s + r.trainSeconds, 0);
    const samples = fit.history.reduce((s, r) => s + r.samples, 0);
    const test = evaluateModel(model, dataset, 'test', evaluation);
    await emit({
      data: dataName,
      protocol,
      model: name,
      loss: 'softmax',
      hyperparameters: { ...hyper, numInterests: model.numInterests, targets: trainer.resolveTargets(), modelConfig: model.getConfig() },
      epochs: fit.history.length,
      bestEpoch: fit.bestEpoch,
      stoppedBy: fit.stoppedBy,
      secondsPerEpoch: trainSeconds / fit.history.length,
      samplesPerSecond: samples / trainSeconds,
      valid: fit.bestValid,
      test,
      secondsTotal: (performance.now() - t0) / 1000,
      ...(factory.multiInterest ? { interestCosine: meanInterestCosine(model as MultiInterestRecaller, dataset) } : {}),
    });
    model.dispose();
  }
  const table = benchTable(runs, protocol);
  process.stdout.write(table + '\n');
  if (values.md) await writeFile(values.md, table + '\n');
  return runs;
}

/** Mean pairwise cosine between the interests of each test user (in-use interests only). */
function meanInterestCosine(model: MultiInterestRecaller, dataset: SequenceDataset): number {
  let sum = 0;
  let users = 0;
  for (const batch of dataset.evalBatches('test', 512)) {
    const value = tf.tidy(() => {
      const interests = model.userEmbeddings(batch);
      const counts = model.activeInterestCounts(batch);
      const k = interests.shape[1];
      const active = tf.tensor2d(
        Float32Array.from({ length: batch.batchSize * k }, (_, i) => (i % k < counts[Math.floor(i / k)] ? 1 : 0)),
        [batch.batchSize, k],
      );
      return interestSimilarity(interests, active).dataSync()[0];
    });
    sum += value * batch.batchSize;
    users += batch.batchSize;
  }
  return users ? sum / users : NaN;
}

/** The Markdown table of a set of runs (test metrics at the protocol's usual cutoffs). */
export function benchTable(runs: BenchRun[], protocol: 'comirec' | 'loo'): string {
  const keys =
    protocol === 'loo'
      ? (['hitRate@10', 'ndcg@10', 'recall@20', 'ndcg@20', 'recall@50', 'ndcg@50'] as const)
      : (['recall@20', 'ndcg@20', 'hitRate@20', 'recall@50', 'ndcg@50', 'ndcgComiRec@50', 'hitRate@50'] as const);
  const head = `| model | epochs (best) | valid R@50 | ${keys.map((k) => `test ${k}`).join(' | ')} | s/epoch | samples/s |`;
  const sep = `|${'---|'.repeat(keys.length + 5)}`;
  const rows = runs.map(
    (r) =>
      `| ${r.model} | ${r.epochs ? `${r.epochs} (${r.bestEpoch})` : '-'} | ${r.valid['recall@50'].toFixed(4)} | ${keys.map((k) => (r.test[k] ?? NaN).toFixed(4)).join(' | ')} | ${r.secondsPerEpoch ? r.secondsPerEpoch.toFixed(2) : '-'} | ${r.samplesPerSecond ? Math.round(r.samplesPerSecond) : '-'} |`,
  );
  return [head, sep, ...rows].join('\n');
}
