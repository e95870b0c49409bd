/**
 * The DuckDB engine: the log is parsed by the same loaders (every field check, filter and error
 * of `loadInteractions`) but appended to a DuckDB table instead of JavaScript maps; k-core
 * filtering, time ordering and the id mapping run in SQL, and only the encoded sequences come
 * back, streamed chunk by chunk into a `SequenceDataset`. DuckDB spills to disk past its memory
 * limit, so logs whose raw ids would not fit in the JavaScript heap can be filtered.
 *
 * Every order matches the in-memory path exactly:
 * - a row's position `rn` is its order among the kept rows of the file, as the collector sees them;
 * - a missing time is the row's position among its user's kept rows (the collector's running count);
 * - users are numbered by their first kept row; within a user, items are sorted by (time, rn),
 *   which is the collector's stable sort (`-0` is made `+0`, as JavaScript compares them equal);
 * - the k-core rounds drop rare items, then short users, until a round changes nothing (`kCore`);
 * - items are numbered by count (descending), ties by first appearance in (user, position) order
 *   (`ItemVocabulary.build`), or by first appearance alone for `firstSeen`.
 * The split itself is the dataset's own (a seeded permutation of the user indices for comirec,
 * positions for loo), so it is computed by the same code from the same sequences.
 */
import { openDuckDB, type DuckDBConnection } from '../util/duckdb.js';
import { SequenceDataset, type SequenceDatasetOptions } from './dataset.js';
import { resolveDatasetOptions } from './dataset-options.js';
import type { KCoreOptions, KCoreReport } from './filter.js';
import { kCore } from './filter.js';
import { readInteractions, type CountingSink } from './loaders.js';
import { resolveLoadOptions, type LoadOptions } from './load-options.js';
import type { LoadStats } from './types.js';
import { ItemVocabulary } from './vocabulary.js';

/** What the DuckDB engine reads, filters and builds (the options of `loadSequenceDataset`). */
export interface DatasetSourceOptions {
  /** How the file is read (`loadInteractions`' options). */
  load?: LoadOptions;
  /** The k-core filter (`kCore`'s options); absent: no filter. */
  kCore?: KCoreOptions;
  /** The dataset built from the filtered log. */
  dataset?: SequenceDatasetOptions;
}

export interface LoadedDataset {
  dataset: SequenceDataset;
  stats: LoadStats;
  /** The k-core filter's report, when one was asked for. */
  kCore?: KCoreReport;
}

/** Appends each parsed interaction as a row (rn, user, item, time). */
class AppenderSink implements CountingSink {
  interactions = 0;
  dropped = 0;
  constructor(private readonly appender: import('../util/duckdb.js').DuckDBAppender) {}

  add(user: string, item: string, time: number | undefined): void {
    const a = this.appender;
    a.appendBigInt(BigInt(this.interactions++));
    a.appendVarchar(user);
    a.appendVarchar(item);
    if (time === undefined) a.appendNull();
    else a.appendDouble(time);
    a.endRow();
  }

  drop(): void {
    this.dropped++;
  }
}

async function scalar(db: DuckDBConnection, sql: string): Promise<number> {
  const rows = (await db.runAndReadAll(sql)).getRows();
  return Number(rows[0][0]);
}

async function counts(db: DuckDBConnection): Promise<{ users: number; items: number; interactions: number }> {
  const [row] = (await db.runAndReadAll('SELECT count(DISTINCT u), count(DISTINCT i), count(*) FROM ev')).getRows();
  return { users: Number(row[0]), items: Number(row[1]), interactions: Number(row[2]) };
}

/** `kCore` in SQL: the same rounds, thresholds and stopping rule. */
async function kCoreSql(db: DuckDBConnection, options: KCoreOptions): Promise<KCoreReport> {
  // Checks and defaults exactly as kCore does them (an empty input makes it do nothing else).
  kCore([], options);
  const { minUserInteractions = 5, minItemInteractions = 5, iterative = true } = options;
  const before = await counts(db);
  let rounds = 0;
  let rows = before.interactions;
  for (;;) {
    rounds++;
    await db.run(`DELETE FROM ev WHERE i IN (SELECT i FROM ev GROUP BY i HAVING count(*) < ${minItemInteractions})`);
    await db.run(`DELETE FROM ev WHERE u IN (SELECT u FROM ev GROUP BY u HAVING count(*) < ${minUserInteractions})`);
    // A user removed takes rows with it, so an unchanged row count means nothing changed.
    const next = await scalar(db, 'SELECT count(*) FROM ev');
    const changed = next !== rows;
    rows = next;
    if (!iterative || !changed) break;
  }
  const after = await counts(db);
  return {
    usersBefore: before.users,
    usersAfter: after.users,
    itemsBefore: before.items,
    itemsAfter: after.items,
    interactionsBefore: before.interactions,
    interactionsAfter: after.interactions,
    rounds,
  };
}

/** Every value of a one-column query, streamed. */
async function column<T>(db: DuckDBConnection, sql: string, each: (value: unknown) => T): Promise<T[]> {
  const out: T[] = [];
  const result = await db.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    for (const v of chunk.getColumns()[0]) out.push(each(v));
  }
  return out;
}

/** Loads `path` through DuckDB into a `SequenceDataset` equal to the in-memory path's. */
export async function loadDatasetDuckDB(path: string, options: DatasetSourceOptions = {}): Promise<LoadedDataset> {
  const loadOptions = resolveLoadOptions(options.load);
  const datasetOptions = resolveDatasetOptions(options.dataset);
  const { connection: db, close } = await openDuckDB(`the DuckDB engine (reading ${path})`);
  try {
    await db.run('CREATE TABLE raw (rn BIGINT, u VARCHAR, i VARCHAR, t DOUBLE)');
    const appender = await db.createAppender('raw');
    const sink = new AppenderSink(appender);
    let stats: LoadStats;
    try {
      stats = await readInteractions(path, loadOptions, sink);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    await db.run(
      `CREATE TABLE ev AS SELECT rn, u, i,
         coalesce(t, (row_number() OVER (PARTITION BY u ORDER BY rn) - 1)::DOUBLE) + 0.0 AS t
       FROM raw`,
    );
    await db.run('DROP TABLE raw');
    const report = options.kCore ? await kCoreSql(db, options.kCore) : undefined;
    await db.run('CREATE TABLE users AS SELECT u, (row_number() OVER (ORDER BY min(rn)) - 1)::INTEGER AS uid FROM ev GROUP BY u');
    await db.run(
      `CREATE TABLE seq AS SELECT users.uid, ev.i, (row_number() OVER (PARTITION BY users.uid ORDER BY ev.t, ev.rn) - 1) AS pos
       FROM ev JOIN users USING (u)`,
    );
    // First appearance in the order the sequences are read: by user, then position.
    const order = datasetOptions.vocabularyOrder === 'frequency' ? 'count(*) DESC, min(uid::BIGINT * 4294967296 + pos)' : 'min(uid::BIGINT * 4294967296 + pos)';
    await db.run(`CREATE TABLE items AS SELECT i, (row_number() OVER (ORDER BY ${order}))::INTEGER AS iid FROM seq GROUP BY i`);

    const userIds = await column(db, 'SELECT u FROM users ORDER BY uid', String);
    const vocabulary = ItemVocabulary.fromItems(await column(db, 'SELECT i FROM items ORDER BY iid', String));
    const lengths = await column(db, 'SELECT count(*)::INTEGER FROM seq GROUP BY uid ORDER BY uid', Number);
    const sequences = lengths.map((n) => new Int32Array(n));
    const result = await db.stream('SELECT seq.uid, items.iid FROM seq JOIN items USING (i) ORDER BY seq.uid, seq.pos');
    let user = 0;
    let at = 0;
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      const [uids, iids] = chunk.getColumns();
      for (let r = 0; r < uids.length; r++) {
        while (Number(uids[r]) !== user) {
          user++;
          at = 0;
        }
        sequences[user][at++] = Number(iids[r]);
      }
    }
    const dataset = SequenceDataset.fromEncoded(sequences, vocabulary, options.dataset, userIds);
    return report ? { dataset, stats, kCore: report } : { dataset, stats };
  } finally {
    close();
  }
}
