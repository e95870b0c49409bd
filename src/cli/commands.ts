/** `seqrec train | eval | recommend`: thin wrappers over the library API. */
import { appendFile } from 'node:fs/promises';
import { SequenceDataset, type SequenceDatasetOptions } from '../data/dataset.js';
import { kCore } from '../data/filter.js';
import { loadInteractions, type DataFormat } from '../data/loaders.js';
import { SeqrecError } from '../errors.js';
import { createModel, modelFactory, MODELS } from '../models/registry.js';
import { assertModelFits, MAX_EMBEDDING_DIM } from '../models/size.js';
import { loadModel, saveModel } from '../bundle/checkpoint.js';
import { assertWritableModelDir } from '../bundle/atomic-dir.js';
import { evaluatePopularity, itemMatrix, userMatrix } from '../train/evaluate.js';
import { Trainer } from '../train/trainer.js';
import { loadSessions } from '../data/session-parallel.js';
import { LOSS_NAMES, lossFromSettings, SAMPLER_NAMES, type LossFunction, type LossName } from '../losses/index.js';
import { GRU4Rec } from '../models/gru4rec.js';
import { GRU4REC_OFFICIAL_PRESETS, GRU4REC_PRESET_NAMES, presetLoss, presetModel } from './presets.js';
import { evaluateSessionParallel, trainSessionParallel } from '../train/session-parallel.js';
import { ExactRetriever } from '../retrieval/exact.js';
import { exportBundle } from '../bundle/bundle.js';
import { choiceFlag, floatFlag, intFlag, metricTable, requireFlag } from './args.js';
import type { CliFlags } from './main.js';
import { cliProgress, evaluateWithProgress, trainingProgress } from './progress.js';

type Log = (line: string) => void;

const FORMATS = ['auto', 'sequence', 'movielens-dat', 'movielens-udata', 'movielens-csv', 'csv', 'tsv', 'jsonl', 'amazon-csv', 'amazon-json', 'taobao', 'session', 'session-lines'] as const;
export const REPORT_KEYS = ['recall@20', 'ndcg@20', 'hitRate@20', 'recall@50', 'ndcg@50', 'ndcgComiRec@50', 'hitRate@50'];

export interface DataSettings {
  data: string;
  format: (typeof FORMATS)[number];
  delimiter?: string;
  minCount: number;
  /** k-core filter: 'iterative' (to a fixed point, default) or 'one-pass' (items, then users: ComiRec's preprocessing). Absent = iterative. */
  kCore?: 'iterative' | 'one-pass';
  dataset: SequenceDatasetOptions;
}

export function dataSettingsFrom(flags: CliFlags, command: string): DataSettings {
  return dataSettings(flags, command);
}

export function dataSettings(flags: CliFlags, command: string): DataSettings {
  const protocol = choiceFlag(flags.protocol, 'protocol', ['comirec', 'loo'] as const, 'comirec');
  return {
    data: requireFlag(flags.data, 'data', command),
    format: choiceFlag(flags.format, 'format', FORMATS, 'auto'),
    delimiter: flags.delimiter,
    minCount: intFlag(flags['min-count'], 'min-count', 5, 0),
    kCore: choiceFlag(flags['k-core'], 'k-core', ['iterative', 'one-pass'] as const, 'iterative'),
    dataset: {
      protocol,
      maxLen: intFlag(flags['max-len'], 'max-len', 20, 1),
      samplesPerUser: intFlag(flags['samples-per-user'], 'samples-per-user', 1, 1),
      seed: intFlag(flags.seed, 'seed', 42, 0),
      splitSeed: intFlag(flags['split-seed'], 'split-seed', 2020, 0),
    },
  };
}

/** Reads the log, applies the k-core filter and builds the split the same way every time. */
export async function buildDataset(settings: DataSettings, log: Log, skipMalformed = false): Promise<SequenceDataset> {
  const t0 = performance.now();
  const raw = await cliProgress().run(`loading ${settings.data}`, () =>
    loadInteractions(settings.data, {
      format: settings.format === 'auto' ? undefined : (settings.format as DataFormat),
      delimiter: settings.delimiter,
      onMalformed: skipMalformed ? 'skip' : 'throw',
    }),
  );
  if (raw.stats.skipped) log(`skipped ${raw.stats.skipped} malformed lines, e.g. ${raw.stats.skipReasons.slice(0, 3).join('; ')}`);
  let sequences = raw.sequences;
  if (settings.minCount > 0) {
    const filtered = kCore(sequences, { minUserInteractions: settings.minCount, minItemInteractions: settings.minCount, iterative: settings.kCore !== 'one-pass' });
    sequences = filtered.sequences;
    const r = filtered.report;
    log(`${settings.minCount}-core filter (${settings.kCore ?? 'iterative'}): users ${r.usersBefore} -> ${r.usersAfter}, items ${r.itemsBefore} -> ${r.itemsAfter}, interactions ${r.interactionsBefore} -> ${r.interactionsAfter}`);
  }
  const dataset = SequenceDataset.fromLog({ sequences, stats: raw.stats }, settings.dataset);
  const d = dataset.describe();
  log(
    `data ${settings.data}: ${d.users} users, ${d.items} items, ${d.interactions} interactions; ` +
      `${settings.dataset.protocol} split ${d.trainUsers}/${d.validUsers}/${d.testUsers}; ` +
      `${d.trainSamplesPerEpoch} training samples per epoch (${((performance.now() - t0) / 1000).toFixed(1)}s)`,
  );
  return dataset;
}

function multiInterestModels(): string[] {
  return Object.keys(MODELS).filter((name) => modelFactory(name).multiInterest);
}

export async function runTrain(flags: CliFlags, log: Log): Promise<void> {
  // The official GRU4Rec presets are session-parallel runs.
  const defaultMode = flags.preset !== undefined ? 'session-parallel' : 'window';
  if (choiceFlag(flags.mode, 'mode', ['window', 'session-parallel'] as const, defaultMode) === 'session-parallel') return runTrainSessions(flags, log);
  if (flags.preset !== undefined) throw new SeqrecError('invalid_argument', `--preset ${flags.preset} is a session-parallel preset; drop --mode window`, { field: 'preset' });
  const loss = lossFlags(flags, 'softmax');
  const settings = dataSettings(flags, 'train');
  const dim = dimFlag(flags.dim);
  const modelName = choiceFlag(flags.model, 'model', Object.keys(MODELS) as (keyof typeof MODELS)[], 'gru4rec');
  if (flags.interests !== undefined && !modelFactory(modelName).multiInterest) {
    throw new SeqrecError('invalid_argument', `--interests applies to the multi-interest models (${multiInterestModels().join(', ')}), not ${modelName}`, { field: 'interests' });
  }
  await checkOut(flags);
  const dataset = await buildDataset(settings, log, flags['skip-malformed']);
  // Before any epoch: a split too small to train, validate or test on is named now.
  dataset.assertSplits(['train', 'valid', 'test']);
  const similarity = choiceFlag(flags.similarity, 'similarity', ['ip', 'cosine'] as const, 'ip');
  const model = withDimFlag(dim, () => createModel(modelName, {
    itemCount: dataset.itemCount,
    embeddingDim: dim,
    maxLen: settings.dataset.maxLen!,
    seed: settings.dataset.seed!,
    // K of the multi-interest models; absent = the model's default.
    ...(flags.interests !== undefined ? { numInterests: intFlag(flags.interests, 'interests', 4, 1) } : {}),
  }));
  const batchSize = intFlag(flags.batch, 'batch', 256, 1);
  const epochs = intFlag(flags.epochs, 'epochs', 30, 1);
  const trainer = new Trainer(model, {
    learningRate: floatFlag(flags.lr, 'lr', 1e-3),
    batchSize,
    epochs,
    patience: intFlag(flags.patience, 'patience', 5, 1),
    loss,
    itemGradients: choiceFlag(flags['item-gradients'], 'item-gradients', ['auto', 'dense', 'sparse'] as const, 'auto'),
    evaluation: { similarity },
    log,
    callbacks: trainingProgress(cliProgress(), { epochs, stepsPerEpoch: Math.ceil(dataset.trainSamplesPerEpoch() / batchSize), validUsers: dataset.validUsers.length }),
  });
  const fit = await trainer.fit(dataset);
  const test = evaluateWithProgress(cliProgress(), model, dataset, 'test', { similarity });
  const popular = evaluatePopularity(dataset, 'test');
  const sPerEpoch = fit.history.reduce((s, r) => s + r.trainSeconds, 0) / fit.history.length;
  const samplesPerSecond = fit.history.reduce((s, r) => s + r.samples, 0) / fit.history.reduce((s, r) => s + r.trainSeconds, 0);
  process.stdout.write(
    `\n${modelName} on ${settings.data} (${settings.dataset.protocol} protocol), best epoch ${fit.bestEpoch} of ${fit.history.length} (${fit.stoppedBy}), ` +
      `${sPerEpoch.toFixed(2)} s/epoch, ${Math.round(samplesPerSecond)} samples/s\n` +
      metricTable([{ name: modelName, report: test }, { name: 'MostPopular', report: popular }], REPORT_KEYS) +
      '\n',
  );
  if (flags.out) {
    // The per-epoch record of the run (for `seqrec plot curves`) goes into the same atomic version.
    const history = JSON.stringify({ format: 'seqrec-history', version: 1, model: modelName, data: settings.data, bestEpoch: fit.bestEpoch, stoppedBy: fit.stoppedBy, history: fit.history, baselines: { MostPopular: { valid: evaluatePopularity(dataset, 'valid') } } }, null, 1) + '\n';
    // A full serving bundle (a checkpoint plus popularity.json): `seqrec serve --model` reads it directly.
    await exportBundle(model, flags.out, {
      vocabulary: dataset.vocabulary,
      popularity: dataset.itemPopularity(),
      popularitySource: settings.data,
      similarity,
      meta: { settings, bestEpoch: fit.bestEpoch, test },
      extraFiles: { 'history.json': history },
      existing: flags.force ? 'replace' : 'error',
    });
    log(`saved model and history.json to ${flags.out}`);
  }
  if (flags.json) {
    const line = { data: settings.data, protocol: settings.dataset.protocol, model: modelName, settings, epochs: fit.history.length, bestEpoch: fit.bestEpoch, stoppedBy: fit.stoppedBy, secondsPerEpoch: sPerEpoch, samplesPerSecond, valid: fit.bestValid, test, mostPopular: popular };
    await appendFile(flags.json, JSON.stringify(line) + '\n');
  }
  model.dispose();
}

export async function runEval(flags: CliFlags, log: Log): Promise<void> {
  const dir = requireFlag(flags.model, 'model', 'eval');
  const { model, meta } = await loadModel(dir);
  const saved = meta.settings as DataSettings | undefined;
  const settings: DataSettings = flags.data ? dataSettings(flags, 'eval') : saved ?? dataSettings(flags, 'eval');
  const dataset = await buildDataset(settings, log, flags['skip-malformed']);
  dataset.assertSplits(['test']);
  if (dataset.itemCount !== model.itemCount) {
    throw new SeqrecError('shape_mismatch', `the data gives ${dataset.itemCount} item rows but the model in ${dir} has ${model.itemCount}: use the same data and --min-count as in training`);
  }
  const similarity = choiceFlag(flags.similarity, 'similarity', ['ip', 'cosine'] as const, 'ip');
  const test = evaluateWithProgress(cliProgress(), model, dataset, 'test', { similarity });
  process.stdout.write(metricTable([{ name: model.name, report: test }, { name: 'MostPopular', report: evaluatePopularity(dataset, 'test') }], REPORT_KEYS) + '\n');
  model.dispose();
}

export async function runRecommend(flags: CliFlags, log: Log): Promise<void> {
  const dir = requireFlag(flags.model, 'model', 'recommend');
  const historyFlag = requireFlag(flags.history, 'history', 'recommend');
  const k = intFlag(flags.k, 'k', 10, 1);
  const { model, vocabulary } = await loadModel(dir);
  if (!vocabulary) throw new SeqrecError('bundle_invalid', `${dir} has no vocabulary.json: cannot map raw item ids`);
  const raw = historyFlag.split(',').map((s) => s.trim()).filter(Boolean);
  const known: number[] = [];
  const unknown: string[] = [];
  for (const id of raw) {
    const index = vocabulary.encode(id);
    if (index === undefined) unknown.push(id);
    else known.push(index);
  }
  if (unknown.length) log(`unknown item ids skipped: ${unknown.join(', ')}`);
  if (!known.length) throw new SeqrecError('unknown_item', `none of the history's item ids are in the model's vocabulary`);
  const window = known.slice(-model.maxLen);
  const history = new Int32Array(model.maxLen);
  const mask = new Float32Array(model.maxLen);
  history.set(window);
  mask.fill(1, 0, window.length);
  const queries = userMatrix(model, { batchSize: 1, maxLen: model.maxLen, history, mask, lengths: Int32Array.of(window.length) });
  const retriever = new ExactRetriever(itemMatrix(model), model.embeddingDim);
  // k only sizes the result buffers: never more than the catalogue (padding row left out).
  const result = retriever.search(queries, { k: Math.min(k, model.itemCount - 1), interests: model.numInterests, exclude: flags['exclude-seen'] ? [window] : undefined });
  const rows = [...result.ids].map((id, i) => ({ item: id > 0 ? vocabulary.decode(id) : null, score: result.scores[i] })).filter((r) => r.item !== null);
  process.stdout.write(JSON.stringify({ history: raw, unknown, recommendations: rows }, null, 2) + '\n');
  retriever.dispose();
  model.dispose();
}

/**
 * `--out DIR`, checked before any data is read or any epoch runs: a non-empty directory that
 * holds no seqrec model is refused, and one that holds a model needs --force (the new model
 * then becomes a new version; the previous one is kept next to it).
 */
async function checkOut(flags: CliFlags): Promise<void> {
  if (flags.out) await assertWritableModelDir(flags.out, { replace: flags.force ? 'allow' : 'refuse' });
}

/**
 * `--dim`, checked before any data is read: at most MAX_EMBEDDING_DIM, and a model of that
 * width must fit in memory even with the fewest items (the full check runs when the model is built).
 */
function dimFlag(value: string | undefined): number {
  const dim = intFlag(value, 'dim', 64, 1);
  if (dim > MAX_EMBEDDING_DIM) {
    throw new SeqrecError('invalid_config', `--dim must be at most ${MAX_EMBEDDING_DIM} (embeddingDim), got '${value}'`, { field: 'dim' });
  }
  withDimFlag(dim, () => assertModelFits({ itemCount: 2, embeddingDim: dim, maxLen: 1 }, 'seqrec train'));
  return dim;
}

/** Builds a model; a size error from it names the flags that set the size. */
function withDimFlag<T>(dim: number, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof SeqrecError) || e.code !== 'invalid_config' || !['embeddingDim', 'hiddenDim', 'itemCount'].includes(e.field ?? '')) throw e;
    const field = e.field === 'itemCount' ? 'min-count' : 'dim';
    throw new SeqrecError('invalid_config', `${e.message} (--dim ${dim} sets embeddingDim; a higher --min-count keeps fewer items)`, { field });
  }
}

/** `--loss NAME [--negatives N] [--sampler S] [--alpha A]`; the name alone when no setting is given. */
function lossFlags(flags: CliFlags, fallback: LossName): LossName | LossFunction {
  const name = choiceFlag(flags.loss, 'loss', LOSS_NAMES, fallback);
  if (flags.negatives === undefined && flags.sampler === undefined && flags.alpha === undefined) return name;
  return lossFromSettings(name, {
    negatives: flags.negatives === undefined ? undefined : intFlag(flags.negatives, 'negatives', 0, 0),
    sampler: flags.sampler === undefined ? undefined : choiceFlag(flags.sampler, 'sampler', SAMPLER_NAMES, 'popularity'),
    alpha: flags.alpha === undefined ? undefined : floatFlag(flags.alpha, 'alpha', 0.75),
  });
}

/** `seqrec train --mode session-parallel`: GRU4Rec on session files, GRU4Rec's own training mode. */
async function runTrainSessions(flags: CliFlags, log: Log): Promise<void> {
  const data = requireFlag(flags.data, 'data', 'train');
  const dim = dimFlag(flags.dim);
  choiceFlag(flags.model, 'model', ['gru4rec'] as const, 'gru4rec');
  // --preset gru4rec-official-<dataset>: the official tuned settings (src/cli/presets.ts); explicit flags override them.
  const preset = flags.preset === undefined ? undefined : GRU4REC_OFFICIAL_PRESETS[choiceFlag(flags.preset, 'preset', GRU4REC_PRESET_NAMES, GRU4REC_PRESET_NAMES[0])];
  if (preset && (flags.loss ?? flags.negatives ?? flags.sampler ?? flags.alpha) !== undefined) {
    throw new SeqrecError('invalid_argument', `--preset ${flags.preset} sets the loss and its negatives; drop --loss/--negatives/--sampler/--alpha or the preset`, { field: 'preset' });
  }
  if (preset) log(`preset ${flags.preset}: the official ${preset.paramfile} (${preset.loss}, ${preset.hidden} units, adagrad lr ${preset.learningRate} momentum ${preset.momentum}, batch ${preset.batchSize}, dropout ${preset.dropoutEmbed}/${preset.dropoutHidden}, output bias)`);
  const loss = preset ? presetLoss(preset) : lossFlags(flags, 'bpr-max');
  const optimizer = choiceFlag(flags.optimizer, 'optimizer', ['adam', 'adagrad'] as const, preset ? 'adagrad' : 'adam');
  await checkOut(flags);
  const { train, test, testDropped } = await loadSessions(data, flags.test);
  log(`sessions ${data}: ${train.count} sessions, ${train.events} events, ${train.itemCount - 1} items; ${train.pairs()} training pairs per epoch`);
  if (test) log(`test ${flags.test}: ${test.count} sessions, ${test.pairs()} next-item predictions (${testDropped!.events} events dropped: unknown items or sessions left shorter than 2)`);
  const presetDim = flags.dim === undefined ? preset?.hidden : undefined;
  const model = withDimFlag(dim, () => new GRU4Rec({
    itemCount: train.itemCount,
    ...(preset ? presetModel(preset) : {}),
    embeddingDim: presetDim ?? dim,
    hiddenDim: presetDim ?? dim,
    maxLen: intFlag(flags['max-len'], 'max-len', 20, 1),
    seed: intFlag(flags.seed, 'seed', 42, 0),
  }));
  const result = await trainSessionParallel(model, train, {
    loss,
    batchSize: intFlag(flags.batch, 'batch', preset?.batchSize ?? 128, 1),
    epochs: intFlag(flags.epochs, 'epochs', preset?.epochs ?? 10, 1),
    learningRate: flags.lr === undefined ? preset?.learningRate : floatFlag(flags.lr, 'lr', 1e-3),
    optimizer,
    momentum: flags.momentum === undefined ? preset?.momentum : floatFlag(flags.momentum, 'momentum', 0),
    log,
  });
  const sPerEpoch = result.history.reduce((s, r) => s + r.seconds, 0) / result.history.length;
  const report = test ? evaluateSessionParallel(model, test, { cutoffs: [5, 10, 20] }) : undefined;
  process.stdout.write(
    `\ngru4rec (session-parallel) on ${data}, ${result.history.length} epochs, ${sPerEpoch.toFixed(2)} s/epoch, final training loss ${result.history[result.history.length - 1].loss.toFixed(4)}\n` +
      (report ? metricTable([{ name: 'gru4rec', report }], ['recall@5', 'mrr@5', 'recall@10', 'mrr@10', 'recall@20', 'mrr@20']) + `\n(${report.events} test events, ties 'standard')\n` : '(no --test sessions: nothing evaluated)\n'),
  );
  if (flags.out) {
    await saveModel(model, flags.out, { vocabulary: train.vocabulary, meta: { mode: 'session-parallel', data, test: report }, replace: flags.force ? 'allow' : 'refuse' });
    log(`saved model to ${flags.out}`);
  }
  if (flags.json) {
    const line = { data, testData: flags.test, mode: 'session-parallel', model: 'gru4rec', preset: flags.preset, loss: preset?.loss ?? flags.loss ?? 'bpr-max', epochs: result.history.length, secondsPerEpoch: sPerEpoch, history: result.history, test: report };
    await appendFile(flags.json, JSON.stringify(line) + '\n');
  }
  model.dispose();
}
