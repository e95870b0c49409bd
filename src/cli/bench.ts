/**
 * `seqrec bench`: trains each requested model with early stopping on one dataset and protocol,
 * evaluates it on the test users, and writes one JSON line per run plus a Markdown table.
 * With `--split FILE` (the PyTorch peer's export) seqrec uses the peer's exact sequences and
 * user split, so the two can be compared on identical data.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { SequenceDataset } from '../data/dataset.js';
import { loadPeerExport } from '../data/peer-export.js';
import type { MetricReport } from '../metrics/index.js';
import { interestSimilarity } from '../models/layers/attention.js';
import type { MultiInterestRecaller } from '../models/multi-interest.js';
import { MODELS, modelFactory } from '../models/registry.js';
import { evaluateModel, evaluatePopularity } from '../train/evaluate.js';
import { Trainer } from '../train/trainer.js';
import { choiceFlag, floatFlag, intFlag } from './args.js';
import { buildDataset, dataSettingsFrom } from './commands.js';
import type { CliFlags } from './main.js';

type Log = (line: string) => void;

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
export async function runBench(flags: CliFlags, log: Log, modelOptions: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {}): Promise<BenchRun[]> {
  const protocol = choiceFlag(flags.protocol, 'protocol', ['comirec', 'loo'] as const, 'comirec');
  const names = (flags.models ?? 'gru4rec').split(',').map((s) => s.trim()).filter(Boolean);
  const models = names.filter((n) => n !== 'mostpopular');
  models.forEach((n) => modelFactory(n)); // unknown names fail before any training
  const maxLen = intFlag(flags['max-len'], 'max-len', 20, 1);
  const seed = intFlag(flags.seed, 'seed', 42, 0);
  const samplesPerUser = intFlag(flags['samples-per-user'], 'samples-per-user', 1, 1);
  let dataset: SequenceDataset;
  let dataName: string;
  if (flags.split) {
    dataset = await loadPeerExport(flags.split, { protocol, maxLen, seed, samplesPerUser });
    dataName = flags.data ?? flags.split;
    const d = dataset.describe();
    log(`peer split ${flags.split}: ${d.users} users, ${d.items} items, ${d.interactions} interactions; ${d.trainUsers}/${d.validUsers}/${d.testUsers}`);
  } else {
    const settings = dataSettingsFrom(flags, 'bench');
    dataset = await buildDataset(settings, log, flags['skip-malformed']);
    dataName = settings.data;
  }
  const hyper = {
    dim: intFlag(flags.dim, 'dim', 64, 1),
    maxLen,
    interests: intFlag(flags.interests, 'interests', 4, 1),
    batch: intFlag(flags.batch, 'batch', 256, 1),
    lr: floatFlag(flags.lr, 'lr', 1e-3),
    epochs: intFlag(flags.epochs, 'epochs', 30, 1),
    patience: intFlag(flags.patience, 'patience', 5, 1),
    samplesPerUser,
    seed,
    similarity: choiceFlag(flags.similarity, 'similarity', ['ip', 'cosine'] as const, 'ip'),
    parallelism: flags.parallelism === undefined ? 'auto' : intFlag(flags.parallelism, 'parallelism', 1, 1),
    // Remedies for interests that collapse onto each other (multi-interest models only).
    diversityWeight: floatFlag(flags.diversity, 'diversity', 0),
    sharpenPower: floatFlag(flags.sharpen, 'sharpen', 1),
  };
  const runs: BenchRun[] = [];
  const emit = async (run: BenchRun) => {
    runs.push(run);
    if (flags.out) {
      await mkdir(dirname(flags.out), { recursive: true });
      await appendFile(flags.out, JSON.stringify(run) + '\n');
    }
  };
  const evaluation = { ns: NS, similarity: hyper.similarity };
  if (names.includes('mostpopular')) {
    await emit({
      data: dataName, protocol, model: 'mostpopular', loss: '-', hyperparameters: {}, epochs: 0, bestEpoch: 0, stoppedBy: '-',
      secondsPerEpoch: 0, samplesPerSecond: 0, valid: evaluatePopularity(dataset, 'valid', { ns: NS }), test: evaluatePopularity(dataset, 'test', { ns: NS }), secondsTotal: 0,
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
      evaluation,
      parallelism: hyper.parallelism as number | 'auto',
      log,
    });
    const fit = await trainer.fit(dataset);
    const trainSeconds = fit.history.reduce((s, r) => s + r.trainSeconds, 0);
    const samples = fit.history.reduce((s, r) => s + r.samples, 0);
    const test = evaluateModel(model, dataset, 'test', evaluation);
    await emit({
      data: dataName, protocol, model: name, loss: 'softmax', hyperparameters: { ...hyper, numInterests: model.numInterests, modelConfig: model.getConfig() },
      epochs: fit.history.length, bestEpoch: fit.bestEpoch, stoppedBy: fit.stoppedBy,
      secondsPerEpoch: trainSeconds / fit.history.length, samplesPerSecond: samples / trainSeconds,
      valid: fit.bestValid, test, secondsTotal: (performance.now() - t0) / 1000,
      ...(factory.multiInterest ? { interestCosine: meanInterestCosine(model as MultiInterestRecaller, dataset) } : {}),
    });
    model.dispose();
  }
  const table = benchTable(runs, protocol);
  process.stdout.write(table + '\n');
  if (flags.md) await writeFile(flags.md, table + '\n');
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
      const active = tf.tensor2d(Float32Array.from({ length: batch.batchSize * k }, (_, i) => (i % k < counts[Math.floor(i / k)] ? 1 : 0)), [batch.batchSize, k]);
      return interestSimilarity(interests, active).dataSync()[0];
    });
    sum += value * batch.batchSize;
    users += batch.batchSize;
  }
  return users ? sum / users : NaN;
}

/** The Markdown table of a set of runs (test metrics at the protocol's usual cutoffs). */
export function benchTable(runs: BenchRun[], protocol: 'comirec' | 'loo'): string {
  const keys = protocol === 'loo'
    ? (['hitRate@10', 'ndcg@10', 'recall@20', 'ndcg@20', 'recall@50', 'ndcg@50'] as const)
    : (['recall@20', 'ndcg@20', 'hitRate@20', 'recall@50', 'ndcg@50', 'ndcgComiRec@50', 'hitRate@50'] as const);
  const head = `| model | epochs (best) | valid R@50 | ${keys.map((k) => `test ${k}`).join(' | ')} | s/epoch | samples/s |`;
  const sep = `|${'---|'.repeat(keys.length + 5)}`;
  const rows = runs.map((r) =>
    `| ${r.model} | ${r.epochs ? `${r.epochs} (${r.bestEpoch})` : '-'} | ${r.valid['recall@50'].toFixed(4)} | ${keys.map((k) => (r.test[k] ?? NaN).toFixed(4)).join(' | ')} | ${r.secondsPerEpoch ? r.secondsPerEpoch.toFixed(2) : '-'} | ${r.samplesPerSecond ? Math.round(r.samplesPerSecond) : '-'} |`,
  );
  return [head, sep, ...rows].join('\n');
}

export const BENCH_MODEL_NAMES = ['mostpopular', ...Object.keys(MODELS)];
