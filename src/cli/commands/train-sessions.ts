/** `seqrec train --mode session-parallel`: GRU4Rec on session files, GRU4Rec's own training mode. */
import { appendFile } from 'node:fs/promises';
import { saveModel } from '../../bundle/checkpoint.js';
import { loadSessions } from '../../data/session-parallel.js';
import { SeqrecError } from '../../errors.js';
import { GRU4Rec } from '../../models/gru4rec.js';
import { evaluateSessionParallel, trainSessionParallel } from '../../train/session-parallel.js';
import { trainingStops } from '../interrupt.js';
import { runContext, writeRunRecord } from '../run-records.js';
import type { Log } from '../command.js';
import { GRU4REC_OFFICIAL_PRESETS, presetLoss, presetModel } from '../presets.js';
import { DEFAULT_DIM, lossOf } from '../shared-flags.js';
import { metricTable } from '../table.js';
import { checkDim, checkOut, withDimFlag, type TrainValues } from './train-flags.js';

export async function runTrainSessions(values: TrainValues, log: Log): Promise<void> {
  const startedAt = new Date();
  const data = values.data;
  const dim = checkDim(values.dim ?? DEFAULT_DIM);
  if (values.model !== 'gru4rec')
    throw new SeqrecError('invalid_argument', `--model must be gru4rec in session-parallel mode, got '${values.model}'`, { field: 'model' });
  // --preset gru4rec-official-<dataset>: the official tuned settings (src/cli/presets.ts); explicit flags override them.
  if (values.preset === 'comirec')
    throw new SeqrecError('invalid_argument', '--preset comirec is a window-mode preset; drop --mode session-parallel', { field: 'preset' });
  const preset = values.preset === undefined ? undefined : GRU4REC_OFFICIAL_PRESETS[values.preset];
  if (preset && (values.loss ?? values.negatives ?? values.sampler ?? values.alpha) !== undefined) {
    throw new SeqrecError(
      'invalid_argument',
      `--preset ${values.preset} sets the loss and its negatives; drop --loss/--negatives/--sampler/--alpha or the preset`,
      { field: 'preset' },
    );
  }
  if (preset)
    log(
      `preset ${values.preset}: the official ${preset.paramfile} (${preset.loss}, ${preset.hidden} units, adagrad lr ${preset.learningRate} momentum ${preset.momentum}, batch ${preset.batchSize}, dropout ${preset.dropoutEmbed}/${preset.dropoutHidden}, output bias)`,
    );
  if (values.from !== undefined)
    throw new SeqrecError('invalid_argument', '--from (a warm start) applies to window mode, not --mode session-parallel', { field: 'from' });
  if (values.saveOptimizer)
    throw new SeqrecError('invalid_argument', '--save-optimizer applies to window mode (a warm start with --from continues window training)', {
      field: 'saveOptimizer',
    });
  const loss = preset ? presetLoss(preset) : lossOf(values, 'bpr-max');
  const optimizer = values.optimizer ?? (preset ? 'adagrad' : 'adam');
  await checkOut(values);
  const { train, test, testDropped } = await loadSessions(data, values.test);
  log(`sessions ${data}: ${train.count} sessions, ${train.events} events, ${train.itemCount - 1} items; ${train.pairs()} training pairs per epoch`);
  if (test)
    log(
      `test ${values.test}: ${test.count} sessions, ${test.pairs()} next-item predictions (${testDropped!.events} events dropped: unknown items or sessions left shorter than 2)`,
    );
  // A given --dim wins over the preset's layer size.
  const presetDim = values.dim === undefined ? preset?.hidden : undefined;
  const model = withDimFlag(
    dim,
    () =>
      new GRU4Rec({
        itemCount: train.itemCount,
        ...(preset ? presetModel(preset) : {}),
        embeddingDim: presetDim ?? dim,
        hiddenDim: presetDim ?? dim,
        maxLen: values.maxLen,
        seed: values.seed,
      }),
  );
  const stops = trainingStops(values.maxMinutes, log);
  const training = {
    batchSize: values.batch ?? preset?.batchSize ?? 128,
    epochs: values.epochs ?? preset?.epochs ?? 10,
    learningRate: values.lr ?? preset?.learningRate,
    optimizer,
    momentum: values.momentum ?? preset?.momentum,
  };
  const result = await trainSessionParallel(model, train, {
    loss,
    ...training,
    log,
    ...stops.options,
  }).finally(() => stops.dispose());
  stops.trained(result.history.length);
  const sPerEpoch = result.history.reduce((s, r) => s + r.seconds, 0) / result.history.length;
  const report = test ? evaluateSessionParallel(model, test, { cutoffs: [5, 10, 20] }) : undefined;
  process.stdout.write(
    `\ngru4rec (session-parallel) on ${data}, ${result.history.length} epochs, ${sPerEpoch.toFixed(2)} s/epoch, final training loss ${result.history[result.history.length - 1].loss.toFixed(4)}\n` +
      (report
        ? metricTable([{ name: 'gru4rec', report }], ['recall@5', 'mrr@5', 'recall@10', 'mrr@10', 'recall@20', 'mrr@20']) +
          `\n(${report.events} test events, ties 'standard')\n`
        : '(no --test sessions: nothing evaluated)\n'),
  );
  if (values.out) {
    await saveModel(model, values.out, {
      vocabulary: train.vocabulary,
      meta: { mode: 'session-parallel', data, test: report },
      replace: values.force ? 'allow' : 'refuse',
    });
    log(`saved model to ${values.out}`);
  }
  if (values.runsDir !== 'none') {
    const lossName = preset?.loss ?? values.loss ?? 'bpr-max';
    const path = await writeRunRecord(values.runsDir, {
      command: 'train',
      ...(await runContext(data, startedAt)),
      model: 'gru4rec',
      config: {
        settings: { data, test: values.test, mode: 'session-parallel', preset: values.preset },
        model: model.getConfig(),
        loss: { name: lossName, negatives: values.negatives, sampler: values.sampler, alpha: values.alpha },
        training,
      },
      epochs: result.history.length,
      // No validation split in this mode: the last epoch is the model.
      bestEpoch: result.history.length,
      stoppedBy: result.stoppedBy,
      seconds: result.seconds,
      valid: {},
      test: onlyNumbers(report),
      ...(values.out ? { out: values.out } : {}),
    });
    log(`run record: ${path}`);
  }
  if (values.json) {
    const line = {
      data,
      testData: values.test,
      mode: 'session-parallel',
      model: 'gru4rec',
      preset: values.preset,
      loss: preset?.loss ?? values.loss ?? 'bpr-max',
      epochs: result.history.length,
      secondsPerEpoch: sPerEpoch,
      history: result.history,
      test: report,
    };
    await appendFile(values.json, JSON.stringify(line) + '\n');
  }
  model.dispose();
}

/** The numeric metrics of a session report (its counts included), as a run record keeps them. */
function onlyNumbers(report: object | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(report ?? {}).filter((e): e is [string, number] => typeof e[1] === 'number'));
}
