/** `seqrec eval`: a saved model on the test users of the same split. */
import { loadModel } from '../../bundle/checkpoint.js';
import { SeqrecError } from '../../errors.js';
import { evaluatePopularity } from '../../train/evaluate.js';
import { defineCommand } from '../command.js';
import { buildDataset, dataSettings, type DataSettings } from '../dataset.js';
import { str } from '../flags.js';
import { cliProgress, evaluateWithProgress } from '../progress.js';
import { BACKEND_FLAGS, OPTIONAL_DATA_FLAGS, SIMILARITY_FLAG } from '../shared-flags.js';
import { metricTable, REPORT_KEYS } from '../table.js';

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'evaluate a saved model on the test users of the same split',
  usage: '--model DIR [--data FILE + the data flags used in training]',
  notes: '\nWithout --data, the data file and settings recorded by `seqrec train` are used.',
  flags: {
    model: str('model directory (seqrec train --out)', { required: true, placeholder: 'dir' }),
    ...OPTIONAL_DATA_FLAGS,
    ...SIMILARITY_FLAG,
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
      const test = evaluateWithProgress(cliProgress(), model, dataset, 'test', { similarity: values.similarity });
      process.stdout.write(
        metricTable(
          [
            { name: model.name, report: test },
            { name: 'MostPopular', report: evaluatePopularity(dataset, 'test') },
          ],
          REPORT_KEYS,
        ) + '\n',
      );
    } finally {
      model.dispose();
    }
  },
});
