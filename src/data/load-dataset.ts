/**
 * From a file to a `SequenceDataset` in one call, in memory or through DuckDB: the same
 * reading, k-core filter, vocabulary and split either way.
 */
import { SeqrecError } from '../errors.js';
import { SequenceDataset } from './dataset.js';
import { loadDatasetDuckDB, type DatasetSourceOptions, type LoadedDataset } from './duckdb-engine.js';
import { kCore } from './filter.js';
import { loadInteractions } from './loaders.js';

export type { DatasetSourceOptions, LoadedDataset } from './duckdb-engine.js';

/** Where the log is grouped, filtered and ordered: JavaScript maps, or DuckDB tables (optional package `@duckdb/node-api`). */
export type DataEngine = 'memory' | 'duckdb';

export const DATA_ENGINES: readonly DataEngine[] = Object.freeze(['memory', 'duckdb']);

export interface LoadDatasetOptions extends DatasetSourceOptions {
  /** Default `'memory'`. `'duckdb'` gives the same dataset for logs too large to filter in the heap. */
  engine?: DataEngine;
}

/**
 * `loadInteractions`, then `kCore` (when `options.kCore` is given), then
 * `SequenceDataset.fromLog`; with `engine: 'duckdb'` the grouping, filter and ordering run in
 * DuckDB instead and give an identical dataset (users, items, sequences and split).
 */
export async function loadSequenceDataset(path: string, options: LoadDatasetOptions = {}): Promise<LoadedDataset> {
  const { engine = 'memory', ...rest } = options;
  if (engine === 'duckdb') return loadDatasetDuckDB(path, rest);
  if (engine !== 'memory') {
    throw new SeqrecError('invalid_argument', `loadSequenceDataset: engine must be 'memory' or 'duckdb', got ${JSON.stringify(engine)}`, { field: 'engine' });
  }
  const log = await loadInteractions(path, rest.load);
  if (!rest.kCore) return { dataset: SequenceDataset.fromLog(log, rest.dataset), stats: log.stats };
  const filtered = kCore(log.sequences, rest.kCore);
  return { dataset: SequenceDataset.fromLog({ sequences: filtered.sequences, stats: log.stats }, rest.dataset), stats: log.stats, kCore: filtered.report };
}
