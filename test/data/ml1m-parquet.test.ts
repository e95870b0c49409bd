/**
 * ML-1M (../shared/data/ml-1m, skipped when absent) written to a temporary Parquet file: the
 * parquet loader gives the text loader's sequences, and the DuckDB engine the in-memory
 * dataset (users, vocabulary, sequences, splits), with many equal timestamps to break.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ByteWriter, parquetWrite } from 'hyparquet-writer';
import { writeFileSync } from 'node:fs';
import { loadInteractions, loadSequenceDataset, type LoadDatasetOptions, type SequenceDataset } from '../../src/data/index.js';
import { SHARED_DATA, tempFiles } from './helpers.js';

const RATINGS = join(SHARED_DATA, 'ml-1m/ml-1m.ratings.csv');
const SEQUENCES = join(SHARED_DATA, 'ml-1m/ml-1m.txt');
const skip = existsSync(RATINGS) && existsSync(SEQUENCES) ? false : `ML-1M tests skipped: ${RATINGS} or ${SEQUENCES} not found`;

let files: ReturnType<typeof tempFiles>;
let parquet: string;

/**
 * The ratings as Parquet, each user's rows in reverse (so the loader must sort them back) and
 * with a coarse time `t7 = floor(pos / 7)`: runs of 7 equal times whose order is the file's.
 */
function writeMl1m(path: string): void {
  const lines = readFileSync(RATINGS, 'utf8').trimEnd().split('\n').slice(1);
  const n = lines.length;
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  const rating = new Int32Array(n);
  const pos = new Int32Array(n);
  // Rows are sorted by user, then pos: reversing the whole file reverses each user's rows and the user order.
  for (let r = 0; r < n; r++) {
    const f = lines[n - 1 - r].split(',');
    user[r] = Number(f[0]);
    item[r] = Number(f[1]);
    rating[r] = Number(f[2]);
    pos[r] = Number(f[3]);
  }
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    columnData: [
      { name: 'user_id', data: user, type: 'INT32' },
      { name: 'item_id', data: item, type: 'INT32' },
      { name: 'rating', data: rating, type: 'INT32' },
      { name: 'pos', data: pos, type: 'INT32' },
      { name: 't7', data: pos.map((p) => Math.floor(p / 7)), type: 'INT32' },
    ],
    statistics: false,
  });
  writeFileSync(path, new Uint8Array(writer.getBuffer()));
}

function snapshot(d: SequenceDataset) {
  return {
    users: d.userIds,
    items: d.vocabulary.items(),
    sequences: Array.from({ length: d.numUsers }, (_, u) => d.sequence(u).slice()),
    train: d.trainUsers,
    valid: d.validUsers,
    test: d.testUsers,
  };
}

describe('ML-1M as Parquet', { skip }, () => {
  before(() => {
    files = tempFiles({});
    parquet = files.path('ml-1m.parquet');
    writeMl1m(parquet);
  });
  after(() => files?.cleanup());

  test('the parquet loader gives the sequences of ml-1m.txt (in the reversed file: users last-first)', async () => {
    const fromParquet = await loadInteractions(parquet);
    const fromText = await loadInteractions(SEQUENCES);
    assert.equal(fromParquet.stats.interactions, 1_000_209);
    assert.equal(fromParquet.sequences.length, 6040);
    // The file is reversed, so users come in reverse order of first appearance.
    assert.deepEqual(
      fromParquet.sequences.map((s) => [s.user, s.items]),
      fromText.sequences.map((s) => [s.user, s.items]).reverse(),
    );
  });

  test('the DuckDB engine gives the in-memory dataset: 5-core, equal times (t7), loo and comirec splits', async () => {
    const options: LoadDatasetOptions = {
      load: { columns: { time: 't7' }, minRating: 2 },
      kCore: { minUserInteractions: 5, minItemInteractions: 5 },
      dataset: { protocol: 'loo' },
    };
    const memory = await loadSequenceDataset(parquet, options);
    const duck = await loadSequenceDataset(parquet, { ...options, engine: 'duckdb' });
    assert.deepEqual(duck.kCore, memory.kCore);
    assert.ok(memory.kCore!.interactionsAfter < memory.kCore!.interactionsBefore);
    assert.deepEqual(snapshot(duck.dataset), snapshot(memory.dataset));
    // The comirec split is a function of the same user list and sequences.
    const comirec = { protocol: 'comirec', splitSeed: 7 } as const;
    assert.deepEqual(snapshot(duck.dataset.withOptions(comirec)), snapshot(memory.dataset.withOptions(comirec)));
  });
});
