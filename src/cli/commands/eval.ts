/** `seqrec eval`: a saved model on the test users of the same split. */
import { loadModel } from '../../bundle/checkpoint.js';
import { SeqrecError } from '../../errors.js';
import { evaluatePopularity } from '../../train/evaluate.js';
import { evaluateSegments, type SegmentReport } from '../../train/segments.js';
import { defineCommand } from '../command.js';
import { buildDataset, dataSettings, type DataSettings } from '../dataset.js';
import { intList, str } from '../flags.js';
import { cliProgress, evaluateWithProgress } from '../progress.js';
import { BACKEND_FLAGS, EVAL_EXCLUDE_FLAG, OPTIONAL_DATA_FLAGS, SIMILARITY_FLAG } from '../shared-flags.js';
import { metricTable, REPORT_KEYS } from '../table.js';

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'evaluate a saved model on the test users of the same split',
  usage: '--model DIR [--data FILE + the data flags used in training]',
  notes:
    '\nWithout --data, the data file and settings recorded by `seqrec train` are used.\n' +
    '--segments 5,10,20,50,100 adds a table per history length (1-4, 5-9, ..., 100+ items before the held-out one).',
  flags: {
    model: str('model directory (seqrec train --out)', { required: true, placeholder: 'dir' }),
    ...OPTIONAL_DATA_FLAGS,
    ...SIMILARITY_FLAG,
    ...EVAL_EXCLUDE_FLAG,
    segments: intList('also report metrics per user-activity segment: history-length bucket edges', { min: 2, placeholder: 'edges' }),
    ...BACKEND_FLAGS,
  },
  backend: true,
  async run(values, log) {
    const dir = values.model;
    const { model, meta } = await loadModel(dir);
    try {
      const saved = meta.settings as DataSettings | undefined;
      const data = values.data;
      let settings: DataSettings;
      if (data !== undefined) settings = dataSettings({ ...values, data });
      else if (saved) settings = saved;
      else throw new SeqrecError('invalid_argument', `--data is required: ${dir} records no data settings`, { field: 'data' });
      const dataset = await buildDataset(settings, log, { skipMalformed: values.skipMalformed, engine: values.engine });
      dataset.assertSplits(['test']);
      if (dataset.itemCount !== model.itemCount) {
        throw new SeqrecError(
          'shape_mismatch',
          `the data gives ${dataset.itemCount} item rows but the model in ${dir} has ${model.itemCount}: use the same data and --min-count as in training`,
        );
      }
      // The training run's exclusion unless overridden: the same protocol as its reported test numbers.
      const exclude = values.exclude ?? excludeOf(meta.exclude) ?? 'none';
      const evaluation = { similarity: values.similarity, exclude, ns: [10, 20, 50] };
      const test = evaluateWithProgress(cliProgress(), model, dataset, 'test', evaluation);
      process.stdout.write(
        metricTable(
          [
            { name: model.name, report: test },
            { name: 'MostPopular', report: evaluatePopularity(dataset, 'test', evaluation) },
          ],
          REPORT_KEYS,
        ) +
          (exclude !== 'none' ? `\n(rankings exclude: ${exclude}; MostPopular is ranked without it)` : '') +
          '\n',
      );
      if (values.segments)
        process.stdout.write('\n' + segmentTable(evaluateSegments(model, dataset, 'test', { ...evaluation, edges: values.segments })) + '\n');
    } finally {
      model.dispose();
    }
  },
});

function excludeOf(value: unknown): 'none' | 'window' | 'history' | undefined {
  return value === 'none' || value === 'window' || value === 'history' ? value : undefined;
}

/** One row per history-length bucket: users, the model's and MostPopular's recall and NDCG. */
function segmentTable(segments: SegmentReport[]): string {
  const keys = ['recall@10', 'ndcg@10', 'recall@50', 'ndcg@50'] as const;
  const header = ['history length', 'users', ...keys, ...keys.map((k) => `MostPopular ${k}`)];
  const rows = segments.map((s) => [s.label, String(s.users), ...keys.map((k) => s.model[k].toFixed(4)), ...keys.map((k) => s.popularity[k].toFixed(4))]);
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
