/** The data flags as settings, and the one way the CLI reads a log and splits it. */
import { SequenceDataset, type SequenceDatasetOptions } from '../data/dataset.js';
import { kCore } from '../data/filter.js';
import { loadInteractions } from '../data/loaders.js';
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

/**
 * Reads the log, applies the k-core filter and builds the split the same way every time.
 * `samplesPerUser`, when given, picks the samples per train user from the split (`seqrec train
 * --samples-per-user auto`); the choice is written into `settings.dataset`, so the model's
 * meta records the number that was used.
 */
export async function buildDataset(
  settings: DataSettings,
  log: Log,
  skipMalformed = false,
  samplesPerUser?: (trainUsers: number) => number,
): Promise<SequenceDataset> {
  const t0 = performance.now();
  const raw = await cliProgress().run(`loading ${settings.data}`, () =>
    loadInteractions(settings.data, {
      format: settings.format === 'auto' ? undefined : settings.format,
      delimiter: settings.delimiter,
      onMalformed: skipMalformed ? 'skip' : 'throw',
    }),
  );
  if (raw.stats.skipped) log(`skipped ${raw.stats.skipped} malformed lines, e.g. ${raw.stats.skipReasons.slice(0, 3).join('; ')}`);
  let sequences = raw.sequences;
  if (settings.minCount > 0) {
    const filtered = kCore(sequences, {
      minUserInteractions: settings.minCount,
      minItemInteractions: settings.minCount,
      iterative: settings.kCore !== 'one-pass',
    });
    sequences = filtered.sequences;
    const r = filtered.report;
    log(
      `${settings.minCount}-core filter (${settings.kCore ?? 'iterative'}): users ${r.usersBefore} -> ${r.usersAfter}, items ${r.itemsBefore} -> ${r.itemsAfter}, interactions ${r.interactionsBefore} -> ${r.interactionsAfter}`,
    );
  }
  let dataset = SequenceDataset.fromLog({ sequences, stats: raw.stats }, settings.dataset);
  if (samplesPerUser && dataset.options.sampling === 'random') {
    const n = samplesPerUser(dataset.trainUsers.length);
    if (n !== dataset.options.samplesPerUser) {
      // Same sequences, split and seeds; only the epoch's length changes.
      settings.dataset = { ...settings.dataset, samplesPerUser: n };
      dataset = SequenceDataset.fromLog({ sequences, stats: raw.stats }, settings.dataset);
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
