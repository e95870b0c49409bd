/**
 * The `parquet` format and the DuckDB engine on small hand-made tables: a Parquet row is read
 * like a CSV line (columns, checks, filters, errors by row and column), and the DuckDB engine
 * gives the in-memory dataset exactly, ties and k-core included.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import { loadInteractions, loadSequenceDataset, type LoadDatasetOptions, type SequenceDataset } from '../../src/data/index.js';
import { seqrecError, tempFiles } from './helpers.js';

type Column = { name: string; data: unknown[]; type?: 'STRING' | 'INT32' | 'INT64' | 'DOUBLE' };

function writeParquet(path: string, columns: Column[]): void {
  const writer = new ByteWriter();
  parquetWrite({ writer, columnData: columns as Parameters<typeof parquetWrite>[0]['columnData'], rowGroupSize: 3 });
  writeFileSync(path, new Uint8Array(writer.getBuffer()));
}

// Ties (u1 at time 5, u2 at time 1), a user whose first row is not its earliest, a low rating.
const ROWS: [string, number, number, number][] = [
  ['u2', 10, 1, 4],
  ['u1', 11, 5, 5],
  ['u1', 12, 5, 3],
  ['u2', 13, 1, 5],
  ['u1', 10, 2, 1],
  ['u3', 11, 7, 4],
  ['u2', 12, 0, 4],
  ['u1', 13, 5, 4],
];

function csvOf(rows: typeof ROWS): string {
  return 'user_id,item_id,timestamp,rating\n' + rows.map((r) => r.join(',')).join('\n') + '\n';
}

function parquetOf(path: string, rows: typeof ROWS): void {
  writeParquet(path, [
    { name: 'user_id', data: rows.map((r) => r[0]), type: 'STRING' },
    { name: 'item_id', data: rows.map((r) => r[1]), type: 'INT32' },
    { name: 'timestamp', data: rows.map((r) => BigInt(r[2])), type: 'INT64' },
    { name: 'rating', data: rows.map((r) => r[3]), type: 'DOUBLE' },
  ]);
}

describe('parquet format', () => {
  test('a Parquet table loads to the same sequences as the CSV with the same rows', async () => {
    const files = tempFiles({ 'log.csv': csvOf(ROWS) });
    try {
      parquetOf(files.path('log.parquet'), ROWS);
      for (const options of [{}, { minRating: 4 }, { columns: { time: 'rating' } }]) {
        const fromCsv = await loadInteractions(files.path('log.csv'), options);
        const fromParquet = await loadInteractions(files.path('log.parquet'), options);
        assert.deepEqual(fromParquet.sequences, fromCsv.sequences, JSON.stringify(options));
        assert.equal(fromParquet.stats.format, 'parquet');
        assert.equal(fromParquet.stats.lines, ROWS.length);
        assert.equal(fromParquet.stats.filtered, fromCsv.stats.filtered);
      }
      const log = await loadInteractions(files.path('log.parquet'));
      assert.deepEqual(
        log.sequences.map((s) => [s.user, s.items.join(' ')]),
        [
          ['u2', '12 10 13'],
          ['u1', '10 11 12 13'],
          ['u3', '11'],
        ],
      );
    } finally {
      files.cleanup();
    }
  });

  test('a bad value is reported by row and column; skipping counts it; a missing column is fatal', async () => {
    const files = tempFiles({});
    try {
      const path = files.path('bad.parquet');
      writeParquet(path, [
        { name: 'user', data: ['a', 'a', '  ', 'b', 'b'], type: 'STRING' },
        { name: 'item', data: ['x', 'y', 'z', 'x', null], type: 'STRING' },
      ]);
      await assert.rejects(loadInteractions(path), (e: unknown) => {
        seqrecError('data_parse', /bad\.parquet row 3: column 'user': empty user id/)(e);
        assert.equal((e as { row?: number }).row, 3);
        assert.equal((e as { field?: string }).field, 'user');
        return true;
      });
      await assert.rejects(loadInteractions(path, { onMalformed: 'skip' }), seqrecError('data_parse', /2 of 5 rows are malformed/));
      const log = await loadInteractions(path, { onMalformed: 'skip', maxSkipRate: 0.5 });
      assert.deepEqual(log.stats.skipReasons, ["row 3: column 'user': empty user id", "row 5: column 'item': item id is null, not a string or number"]);
      assert.deepEqual(
        log.sequences.map((s) => s.items),
        [['x', 'y'], ['x']],
      );
      await assert.rejects(
        loadInteractions(path, { columns: { time: 'when' } }),
        seqrecError('data_parse', /bad\.parquet: no column 'when' for time \(columns: 'user', 'item'\)/),
      );
      const text = files.path('text.parquet');
      writeFileSync(text, 'user,item\na,b\n');
      await assert.rejects(loadInteractions(text), seqrecError('data_parse', /not a readable Parquet file/));
    } finally {
      files.cleanup();
    }
  });
});

/** Users, item vocabulary, every sequence and the three splits. */
function snapshot(d: SequenceDataset) {
  return {
    users: d.userIds,
    items: d.vocabulary.items(),
    sequences: Array.from({ length: d.numUsers }, (_, u) => [...d.sequence(u)]),
    train: [...d.trainUsers],
    valid: [...d.validUsers],
    test: [...d.testUsers],
  };
}

describe('DuckDB engine', () => {
  test('gives the in-memory dataset: ties, missing times, k-core rounds, both vocabulary orders and protocols', async () => {
    // Items repeat with equal counts (frequency ties), times tie, -0 ties 0, and the 2-core cascades (e goes with i8, then i7, then f).
    const csv =
      'user,item,time\n' + 'b,i1,3\nb,i2,3\na,i3,0\na,i2,-0\nc,i9,1\nc,i1,2\na,i1,0\nb,i3,1\nd,i4,5\nd,i1,5\nc,i3,2\ne,i8,1\ne,i7,1\nf,i7,2\nf,i1,2\n';
    const files = tempFiles({ 'log.csv': csv, 'seq.txt': '7 a b c a\n3 c c b\n9 d\n7 e\n' });
    try {
      const cases: [string, LoadDatasetOptions][] = [
        ['log.csv', {}],
        ['log.csv', { kCore: { minUserInteractions: 2, minItemInteractions: 2 } }],
        ['log.csv', { kCore: { minUserInteractions: 2, minItemInteractions: 2, iterative: false }, dataset: { vocabularyOrder: 'firstSeen' } }],
        ['log.csv', { dataset: { protocol: 'loo' } }],
        ['seq.txt', { dataset: { protocol: 'loo' } }],
      ];
      for (const [file, options] of cases) {
        const memory = await loadSequenceDataset(files.path(file), options);
        const duck = await loadSequenceDataset(files.path(file), { ...options, engine: 'duckdb' });
        assert.deepEqual(snapshot(duck.dataset), snapshot(memory.dataset), `${file} ${JSON.stringify(options)}`);
        assert.deepEqual(duck.kCore, memory.kCore);
        assert.deepEqual(duck.stats, memory.stats);
      }
      // The 2-core really removed something over more than one round (so the loop is exercised).
      const filtered = await loadSequenceDataset(files.path('log.csv'), { engine: 'duckdb', kCore: { minUserInteractions: 2, minItemInteractions: 2 } });
      assert.ok(filtered.kCore!.rounds >= 3 && filtered.kCore!.interactionsAfter < filtered.kCore!.interactionsBefore, JSON.stringify(filtered.kCore));
      // Parse errors are the loaders' own.
      const bad = tempFiles({ 'bad.csv': 'user,item,time\na,b,1\na,,2\n' });
      await assert.rejects(loadSequenceDataset(bad.path('bad.csv'), { engine: 'duckdb' }), seqrecError('data_parse', /bad\.csv line 3: empty item id/));
      bad.cleanup();
    } finally {
      files.cleanup();
    }
  });
});
