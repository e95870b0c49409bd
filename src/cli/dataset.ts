/** The data flags as settings, and the one way the CLI reads a log and splits it. */
import type { SequenceDataset, SequenceDatasetOptions } from '../data/dataset.js';
import { loadSequenceDataset, type DataEngine } from '../data/load-dataset.js';
import type { FlagValues } from './flags.js';
import type { Log } from './command.js';
import { cliProgress } from './progress.js';
import type { DATA_FLAGS, FORMAT_CHOICES } from './shared-flags.js';

/** Recorded in a model's meta by `seqrec train`; `eval` and `export` reuse it. */
export interface DataSettings {
  data: string;
  format: (typeof FORMAT_CHOICES)[number];
  delimiter?: string;
  minCount: number;
  /** k-core filter: 'iterative' (to a fixed point, default) or 'one-pass' (items, then users: ComiRec's preprocessing). Absent = iterative. */
  kCore?: 'iterative' | 'one-pass';
  dataset: SequenceDatasetOptions;
}

export function dataSettings(values: FlagValues<typeof DATA_FLAGS>): DataSettings {
  return {
    data: values.data,
    format: values.format,
    delimiter: values.delimiter,
    minCount: values.minCount,
    kCore: values.kCore,
    dataset: { protocol: values.protocol, maxLen: values.maxLen, samplesPerUser: values.samplesPerUser, seed: values.seed, splitSeed: values.splitSeed },
  };
}

/** How `buildDataset` reads (none of it changes the dataset, so none is recorded in the model). */
export interface BuildOptions {
  /** Skip malformed lines or rows (counted and reported). */
  skipMalformed?: boolean;
  /** `--engine`: group, filter and order in memory (default) or in DuckDB; the same dataset either way. */
  engine?: DataEngine;
  /** Picks the samples per train user from the split (`seqrec train --samples-per-user auto`). */
  samplesPerUser?: (trainUsers: number) => number;
}

/**
 * Reads the log, applies the k-core filter and builds the split the same way every time.
 * `options.samplesPerUser`, when given, picks the samples per train user from the split; the
 * choice is written into `settings.dataset`, so the model's meta records the number that was used.
 */
export async function buildDataset(settings: DataSettings, log: Log, options: BuildOptions = {}): Promise<SequenceDataset> {
  const t0 = performance.now();
  const engine = options.engine ?? 'memory';
  const loaded = await cliProgress().run(`loading ${settings.data}${engine === 'duckdb' ? ' (duckdb)' : ''}`, () =>
    loadSequenceDataset(settings.data, {
      engine,
      load: {
        format: settings.format === 'auto' ? undefined : settings.format,
        delimiter: settings.delimiter,
        onMalformed: options.skipMalformed ? 'skip' : 'throw',
      },
      kCore:
        settings.minCount > 0
          ? { minUserInteractions: settings.minCount, minItemInteractions: settings.minCount, iterative: settings.kCore !== 'one-pass' }
          : undefined,
      dataset: settings.dataset,
    }),
  );
  const { stats } = loaded;
  if (stats.skipped)
    log(`skipped ${stats.skipped} malformed ${stats.format === 'parquet' ? 'rows' : 'lines'}, e.g. ${stats.skipReasons.slice(0, 3).join('; ')}`);
  const r = loaded.kCore;
  if (r) {
    log(
      `${settings.minCount}-core filter (${settings.kCore ?? 'iterative'}): users ${r.usersBefore} -> ${r.usersAfter}, items ${r.itemsBefore} -> ${r.itemsAfter}, interactions ${r.interactionsBefore} -> ${r.interactionsAfter}`,
    );
  }
  let dataset = loaded.dataset;
  const { samplesPerUser } = options;
  if (samplesPerUser && dataset.options.sampling === 'random') {
    const n = samplesPerUser(dataset.trainUsers.length);
    if (n !== dataset.options.samplesPerUser) {
      // Same sequences, split and seeds; only the epoch's length changes.
      settings.dataset = { ...settings.dataset, samplesPerUser: n };
      dataset = dataset.withOptions(settings.dataset);
    }
  }
  const d = dataset.describe();
  log(
    `data ${settings.data}: ${d.users} users, ${d.items} items, ${d.interactions} interactions; ` +
      `${settings.dataset.protocol} split ${d.trainUsers}/${d.validUsers}/${d.testUsers}; ` +
      `${d.trainSamplesPerEpoch} training samples per epoch${samplesPerUser && dataset.options.sampling === 'random' ? ` (--samples-per-user auto: ${dataset.options.samplesPerUser})` : ''} (${((performance.now() - t0) / 1000).toFixed(1)}s)`,
  );
  return dataset;
}
