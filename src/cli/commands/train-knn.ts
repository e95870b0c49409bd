/**
 * `seqrec train --model itemknn|sknn`: the neighbourhood models have no training loop; a fit
 * over the co-occurrences of the training sequences (as `seqrec bench --models itemknn,sknn`
 * fits them) is their training. Reports the test metrics against MostPopular and writes a
 * neighbourhood-model bundle with --out (src/bundle/ranker-bundle.ts).
 */
import { appendFile } from 'node:fs/promises';
import { recentPopularity } from '../../bundle/cold-start.js';
import { exportRankerBundle } from '../../bundle/ranker-bundle.js';
import { SeqrecError } from '../../errors.js';
import { ItemKNN } from '../../models/knn/item-knn.js';
import { SessionKNN } from '../../models/knn/session-knn.js';
import { evaluateModel, evaluatePopularity } from '../../train/evaluate.js';
import type { Log } from '../command.js';
import { buildDataset, dataSettings } from '../dataset.js';
import { kebab } from '../flags.js';
import { runContext, writeRunRecord } from '../run-records.js';
import { metricTable, REPORT_KEYS } from '../table.js';
import { checkOut, type TrainValues } from './train-flags.js';

export const NEIGHBOURHOOD_NAMES = ['itemknn', 'sknn'] as const;
export type NeighbourhoodName = (typeof NEIGHBOURHOOD_NAMES)[number];

export function isNeighbourhoodName(name: string): name is NeighbourhoodName {
  return (NEIGHBOURHOOD_NAMES as readonly string[]).includes(name);
}

/** Flags of the training loop or of the embedding models: given with a neighbourhood model, they are an error (not silently ignored). */
const NOT_FOR_KNN = [
  'from',
  'interests',
  'blocks',
  'heads',
  'dropout',
  'targets',
  'maxMinutes',
  'lr',
  'epochs',
  'batch',
  'dim',
  'loss',
  'negatives',
  'sampler',
  'alpha',
  'sharing',
  'mode',
  'preset',
  'optimizer',
  'momentum',
  'test',
  'itemFeatures',
  'featureArchitecture',
  'saveOptimizer',
] as const;
// --cold-start: a neighbourhood bundle stores the recent popularity always and needs no co-occurrence table.

export async function runTrainNeighbourhood(values: TrainValues, log: Log): Promise<void> {
  const startedAt = new Date();
  const name = values.model as NeighbourhoodName;
  for (const flag of NOT_FOR_KNN) {
    if (values[flag] !== undefined && values[flag] !== false) {
      throw new SeqrecError(
        'invalid_argument',
        `--${kebab(flag)} does not apply to --model ${name}: a neighbourhood model is fitted on the co-occurrences, with no training loop`,
        {
          field: kebab(flag),
        },
      );
    }
  }
  await checkOut(values);
  const settings = dataSettings({ ...values, samplesPerUser: 1 });
  const dataset = await buildDataset(settings, log, { skipMalformed: values.skipMalformed, engine: values.engine });
  dataset.assertSplits(['train', 'test']);
  const t0 = performance.now();
  const model = name === 'itemknn' ? ItemKNN.fit(dataset) : SessionKNN.fit(dataset);
  const fitSeconds = (performance.now() - t0) / 1000;
  log(`fitted ${name} on ${dataset.trainUsers.length} training sequences in ${fitSeconds.toFixed(2)}s`);
  const test = evaluateModel(model, dataset, 'test', { exclude: values.exclude, ns: [10, 20, 50] });
  const popular = evaluatePopularity(dataset, 'test', { ns: [10, 20, 50] });
  process.stdout.write(
    `\n${name} on ${settings.data} (${settings.dataset.protocol} protocol), fitted in ${fitSeconds.toFixed(2)} s (no training loop)\n` +
      metricTable(
        [
          { name, report: test },
          { name: 'MostPopular', report: popular },
        ],
        [...(values.exclude !== 'none' || settings.dataset.protocol === 'loo' ? ['hitRate@10', 'ndcg@10'] : []), ...REPORT_KEYS],
      ) +
      '\n',
  );
  if (values.out) {
    await exportRankerBundle(model, values.out, {
      vocabulary: dataset.vocabulary,
      popularity: dataset.itemPopularity(),
      popularitySource: settings.data,
      recentPopularity: { counts: recentPopularity(dataset), source: `${settings.data}: the last 0.2 of each training sequence` },
      meta: { settings, fitSeconds, test },
      existing: values.force ? 'replace' : 'error',
    });
    log(`saved ${name} bundle to ${values.out}`);
  }
  if (values.runsDir !== 'none') {
    const path = await writeRunRecord(values.runsDir, {
      command: 'train',
      ...(await runContext(settings.data, startedAt)),
      model: name,
      config: { settings, model: { ...model.config } },
      epochs: 0,
      bestEpoch: 0,
      stoppedBy: 'fitted',
      seconds: fitSeconds,
      valid: {},
      test,
      ...(values.out ? { out: values.out } : {}),
    });
    log(`run record: ${path}`);
  }
  if (values.json) {
    const line = { data: settings.data, protocol: settings.dataset.protocol, model: name, settings, fitSeconds, test, mostPopular: popular };
    await appendFile(values.json, JSON.stringify(line) + '\n');
  }
}
