/** `seqrec train`: window training (the default) or GRU4Rec's session-parallel mode. */
import { appendFile } from 'node:fs/promises';
import { exportBundle } from '../../bundle/bundle.js';
import { coldStartTables } from '../../bundle/cold-start.js';
import { loadModel } from '../../bundle/checkpoint.js';
import type { ItemVocabulary } from '../../data/vocabulary.js';
import { itemFeatureIndex, readItemFeatures, type ItemFeatures } from '../../data/item-features.js';
import { SeqrecError } from '../../errors.js';
import { createModel, modelFactory } from '../../models/registry.js';
import { evaluatePopularity } from '../../train/evaluate.js';
import { Trainer } from '../../train/trainer.js';
import { defineCommand, type Log } from '../command.js';
import { buildDataset, dataSettings } from '../dataset.js';
import { parseStringFlags, type StringFlags } from '../flags.js';
import { trainingStops } from '../interrupt.js';
import { cliProgress, evaluateWithProgress, trainingProgress } from '../progress.js';
import { DEFAULT_DIM, lossOf, validCutoffs } from '../shared-flags.js';
import { runContext, writeRunRecord } from '../run-records.js';
import { metricTable, REPORT_KEYS } from '../table.js';
import { autoSamplesPerUser, checkDim, checkOut, MODEL_NAMES, TRAIN_FLAGS, windowDefaults, withDimFlag, type TrainValues } from './train-flags.js';
import { runTrainSessions } from './train-sessions.js';
import { isNeighbourhoodName, runTrainNeighbourhood } from './train-knn.js';

const NOTES = `
Reports test recall/NDCG/hit rate @20 and @50 against MostPopular.
--out DIR is checked before training: a directory holding a seqrec model needs --force (the new
model becomes a new version, the previous one is kept); any other non-empty directory is refused.
Files you put in DIR (NOTES.md) are never touched.
--mode session-parallel: GRU4Rec with session-parallel mini-batches on 'session_id item item ...'
files (--data, --test); reports next-item recall and MRR @5/10/20 over every test event.`;

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train a model on your interaction log and report test metrics',
  usage: '--data FILE [flags]',
  notes: NOTES,
  flags: TRAIN_FLAGS,
  backend: true,
  run: train,
});

/** `seqrec train` with flags by their command-line names (scripts and tests). */
export async function runTrain(flags: StringFlags, log: Log): Promise<void> {
  return train(parseStringFlags(TRAIN_FLAGS, flags, 'train'), log);
}

/** The item vocabulary of the bundle a warm start continues. */
async function vocabularyOf(dir: string): Promise<ItemVocabulary> {
  const parent = await loadModel(dir);
  parent.model.dispose();
  if (!parent.vocabulary)
    throw new SeqrecError('bundle_invalid', `--from ${dir}: it has no vocabulary.json, so its item rows cannot be matched to ids`, { field: 'from' });
  return parent.vocabulary;
}

/** --feature-architecture needs --item-features and --model gru4rec (checked before the data is read). */
function checkFeatureArchitecture(values: TrainValues, modelName: string): void {
  if (values.featureArchitecture === undefined) return;
  if (values.itemFeatures === undefined)
    throw new SeqrecError('invalid_argument', '--feature-architecture needs --item-features', { field: 'featureArchitecture' });
  if (modelName !== 'gru4rec')
    throw new SeqrecError('invalid_argument', `--feature-architecture applies to --model gru4rec, not ${modelName}`, { field: 'featureArchitecture' });
}

/** --item-features read and aligned with the dataset's vocabulary (null without the flag). */
async function featuresFor(values: TrainValues, modelName: string, vocabulary: ItemVocabulary, log: Log): Promise<ItemFeatures | null> {
  if (values.itemFeatures === undefined) return null;
  if (modelName !== 'gru4rec' && modelName !== 'sasrec') {
    throw new SeqrecError('invalid_argument', `--item-features applies to --model gru4rec or sasrec, not ${modelName}`, { field: 'itemFeatures' });
  }
  if (values.from !== undefined) throw new SeqrecError('invalid_argument', '--item-features cannot be combined with --from yet', { field: 'itemFeatures' });
  const { features, unknownItems, itemsWithout } = itemFeatureIndex(await readItemFeatures(values.itemFeatures), vocabulary);
  log(
    `item features from ${values.itemFeatures}: ${features.featureCount} features on ${features.coveredItems} of ${vocabulary.numItems} items ` +
      `(${itemsWithout} without; ${unknownItems} items of the file not in the data, ignored); strategy ${values.featureStrategy}` +
      (values.featureArchitecture !== undefined ? `, architecture ${values.featureArchitecture}` : ''),
  );
  return features;
}

function multiInterestModels(): string[] {
  return MODEL_NAMES.filter((name) => modelFactory(name).multiInterest);
}

async function train(values: TrainValues, log: Log): Promise<void> {
  const startedAt = new Date();
  // The official GRU4Rec presets are session-parallel runs; --preset comirec is a window run.
  const mode = values.mode ?? (values.preset !== undefined && values.preset !== 'comirec' ? 'session-parallel' : 'window');
  if (isNeighbourhoodName(values.model)) return runTrainNeighbourhood(values, log);
  if (mode === 'session-parallel') {
    for (const flag of ['itemFeatures', 'featureArchitecture'] as const) {
      if (values[flag] !== undefined) {
        const name = flag === 'itemFeatures' ? '--item-features' : '--feature-architecture';
        throw new SeqrecError('invalid_argument', `${name} applies to window training, not --mode session-parallel`, { field: flag });
      }
    }
    return runTrainSessions(values, log);
  }
  if (values.preset !== undefined && values.preset !== 'comirec')
    throw new SeqrecError('invalid_argument', `--preset ${values.preset} is a session-parallel preset; drop --mode window`, { field: 'preset' });
  const loss = lossOf(values, 'softmax');
  const batchSize = values.batch ?? 256;
  // --samples-per-user auto (the default) is resolved once the split is known (AUTO_MIN_STEPS).
  const { samplesPerUser, patience } = windowDefaults(values);
  const settings = dataSettings({ ...values, samplesPerUser: samplesPerUser === 'auto' ? 1 : samplesPerUser });
  const dim = checkDim(values.dim ?? DEFAULT_DIM);
  const modelName = values.model;
  checkFeatureArchitecture(values, modelName);
  if (values.interests !== undefined && !modelFactory(modelName).multiInterest) {
    throw new SeqrecError('invalid_argument', `--interests applies to the multi-interest models (${multiInterestModels().join(', ')}), not ${modelName}`, {
      field: 'interests',
    });
  }
  const sasrecFlags = { blocks: values.blocks, heads: values.heads, dropout: values.dropout };
  for (const [flag, value] of Object.entries(sasrecFlags)) {
    if (value !== undefined && modelName !== 'sasrec') {
      throw new SeqrecError('invalid_argument', `--${flag} applies to --model sasrec, not ${modelName}`, { field: flag });
    }
  }
  await checkOut(values);
  if (values.saveOptimizer && !values.out)
    throw new SeqrecError('invalid_argument', "--save-optimizer saves Adam's state in the --out bundle; give --out DIR", { field: 'saveOptimizer' });
  const parentVocabulary = values.from !== undefined ? await vocabularyOf(values.from) : null;
  let dataset = await buildDataset(settings, log, {
    skipMalformed: values.skipMalformed,
    engine: values.engine,
    samplesPerUser: samplesPerUser === 'auto' ? (trainUsers) => autoSamplesPerUser(trainUsers, batchSize) : undefined,
  });
  if (parentVocabulary) {
    // Warm start: the parent's items keep their indices; the log's new items follow.
    dataset = dataset.withVocabulary(parentVocabulary);
  }
  // Before any epoch: a split too small to train, validate or test on is named now.
  dataset.assertSplits(['train', 'valid', 'test']);
  const similarity = values.similarity;
  const features = await featuresFor(values, modelName, dataset.vocabulary, log);
  const model = withDimFlag(dim, () =>
    createModel(modelName, {
      itemCount: dataset.itemCount,
      embeddingDim: dim,
      maxLen: values.maxLen,
      seed: values.seed,
      // K of the multi-interest models; absent = the model's default.
      ...(values.interests !== undefined ? { numInterests: values.interests } : {}),
      // SASRec's blocks, heads and dropout; absent = its defaults.
      ...(values.blocks !== undefined ? { numBlocks: values.blocks } : {}),
      ...(values.heads !== undefined ? { numHeads: values.heads } : {}),
      ...(values.dropout !== undefined ? { dropout: values.dropout } : {}),
      ...(features ? { itemFeatures: values.featureStrategy, featureCount: Math.max(1, features.featureCount) } : {}),
      // GRU4Rec's p-RNN architecture; absent = shared.
      ...(values.featureArchitecture !== undefined ? { featureArchitecture: values.featureArchitecture } : {}),
    }),
  );
  if (features) model.setItemFeatures(features);
  const targets = values.targets ?? model.defaultTargets;
  if (targets === 'every') {
    log(
      `targets at every position: one window per train user an epoch (${dataset.trainUsers.length} users, a target at each of its items); ` +
        '--samples-per-user does not apply',
    );
  }
  const epochs = values.epochs ?? 30;
  const stops = trainingStops(values.maxMinutes, log);
  const trainer = new Trainer(model, {
    learningRate: values.lr ?? 1e-3,
    batchSize,
    epochs,
    patience,
    monitor: values.monitor,
    from: values.from,
    newRows: values.newRows,
    ...(values.saveOptimizer ? { saveOptimizerState: true } : {}),
    loss,
    itemGradients: values.itemGradients,
    targets,
    evaluation: { similarity, exclude: values.exclude, ns: validCutoffs(values.monitor) },
    log,
    ...stops.options,
    callbacks: trainingProgress(cliProgress(), {
      epochs,
      // Every-position training steps through one sequence per train user.
      stepsPerEpoch: Math.ceil((targets === 'every' ? dataset.trainUsers.length : dataset.trainSamplesPerEpoch()) / batchSize),
      validUsers: dataset.validUsers.length,
    }),
  });
  const fit = await trainer.fit(dataset).finally(() => stops.dispose());
  stops.trained(fit.history.length);
  // HR and NDCG at 10 too: the leave-one-out papers' cutoff.
  const test = evaluateWithProgress(cliProgress(), model, dataset, 'test', { similarity, exclude: values.exclude, ns: [10, 20, 50] });
  const popular = evaluatePopularity(dataset, 'test', { ns: [10, 20, 50] });
  const sPerEpoch = fit.history.reduce((s, r) => s + r.trainSeconds, 0) / fit.history.length;
  const samplesPerSecond = fit.history.reduce((s, r) => s + r.samples, 0) / fit.history.reduce((s, r) => s + r.trainSeconds, 0);
  process.stdout.write(
    `\n${modelName} on ${settings.data} (${settings.dataset.protocol} protocol), best epoch ${fit.bestEpoch} of ${fit.history.length} (${fit.stoppedBy}), ` +
      `${sPerEpoch.toFixed(2)} s/epoch, ${Math.round(samplesPerSecond)} samples/s${targets === 'every' ? ' (a target at every position)' : ''}\n` +
      metricTable(
        [
          { name: modelName, report: test },
          { name: 'MostPopular', report: popular },
        ],
        [...(values.exclude !== 'none' || settings.dataset.protocol === 'loo' ? ['hitRate@10', 'ndcg@10'] : []), ...REPORT_KEYS],
      ) +
      (values.exclude !== 'none' ? `\n(rankings exclude: ${values.exclude}; MostPopular is ranked without it)` : '') +
      '\n',
  );
  if (values.out) {
    // The per-epoch record of the run (for `seqrec plot curves`) goes into the same atomic version.
    const history =
      JSON.stringify(
        {
          format: 'seqrec-history',
          version: 1,
          model: modelName,
          data: settings.data,
          bestEpoch: fit.bestEpoch,
          stoppedBy: fit.stoppedBy,
          history: fit.history,
          baselines: { MostPopular: { valid: evaluatePopularity(dataset, 'valid') } },
        },
        null,
        1,
      ) + '\n';
    // A full serving bundle (a checkpoint plus popularity.json): `seqrec serve --model` reads it directly.
    const parentItems = fit.warmStart?.parentItems ?? 0;
    const tables = values.coldStart === 'on' ? coldStartTables(dataset, { parentItems, source: settings.data }) : {};
    await exportBundle(model, values.out, {
      vocabulary: dataset.vocabulary,
      popularity: dataset.itemPopularity(),
      popularitySource: settings.data,
      similarity,
      ...tables,
      meta: {
        settings,
        exclude: values.exclude,
        bestEpoch: fit.bestEpoch,
        test,
        ...(fit.warmStart ? { parent: fit.warmStart.parentDigest, parentItems } : {}),
      },
      extraFiles: { 'history.json': history },
      optimizerState: fit.optimizerState,
      existing: values.force ? 'replace' : 'error',
    });
    log(`saved model${fit.optimizerState ? ", Adam's state" : ''} and history.json to ${values.out}`);
  }
  if (values.runsDir !== 'none') {
    const { loss: lossName, negatives, sampler, alpha, sharing } = values;
    const path = await writeRunRecord(values.runsDir, {
      command: 'train',
      ...(await runContext(settings.data, startedAt)),
      model: modelName,
      config: {
        settings,
        model: model.getConfig(),
        loss: { name: lossName ?? 'softmax', negatives, sampler, alpha, sharing },
        training: {
          learningRate: values.lr ?? 1e-3,
          batchSize,
          epochs,
          patience,
          monitor: values.monitor,
          targets,
          exclude: values.exclude,
          from: values.from,
          newRows: values.newRows,
        },
      },
      epochs: fit.history.length,
      bestEpoch: fit.bestEpoch,
      stoppedBy: fit.stoppedBy,
      seconds: fit.seconds,
      valid: fit.bestValid,
      test,
      ...(fit.warmStart ? { parent: fit.warmStart.parentDigest } : {}),
      ...(values.out ? { out: values.out } : {}),
    });
    log(`run record: ${path}`);
  }
  if (values.json) {
    const line = {
      data: settings.data,
      protocol: settings.dataset.protocol,
      model: modelName,
      settings,
      epochs: fit.history.length,
      bestEpoch: fit.bestEpoch,
      stoppedBy: fit.stoppedBy,
      secondsPerEpoch: sPerEpoch,
      samplesPerSecond,
      // Training plus validation, all epochs (the wall time of the fit).
      fitSeconds: fit.seconds,
      epochSeconds: fit.history.map((r) => ({ train: r.trainSeconds, eval: r.evalSeconds })),
      valid: fit.bestValid,
      test,
      mostPopular: popular,
    };
    await appendFile(values.json, JSON.stringify(line) + '\n');
  }
  model.dispose();
}
