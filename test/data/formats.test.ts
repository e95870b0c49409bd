/**
 * The format table: every format has a detection case, and its `header` and `ratings`
 * columns say what its parser really does.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DATA_FORMAT_INFO, DATA_FORMATS, detectFormat, loadInteractions, type DataFormat } from '../../src/data/index.js';
import { createLineParser, type RecordSink } from '../../src/data/formats/index.js';
import { seqrecError, tempFiles } from './helpers.js';

/** One (file name, first line) per format; `session-lines` is never guessed (it reads like `sequence`). */
const CASES: Record<DataFormat, [string, string]> = {
  parquet: ['events.parquet', 'PAR1'],
  taobao: ['x.txt', '1,2268318,2520377,pv,1511544070'],
  'amazon-json': ['Books.json', '{"reviewerID": "A", "asin": "B", "overall": 5.0, "unixReviewTime": 1}'],
  jsonl: ['events.log', '{"user": 1, "item": 2, "rating": 4}'],
  'movielens-dat': ['ml-1m/ratings.dat', '1::1193::5::978300760'],
  'movielens-udata': ['ml-100k/u1.base', '196\t242\t3\t881250949'],
  sequence: ['Beauty.txt', '1 1 2 3 4 5'],
  'movielens-csv': ['ratings.csv', 'userId,movieId,rating,timestamp'],
  'amazon-csv': ['ratings_Books.csv', 'AKM1MP6P0OYPR,0132793040,5.0,1365811200'],
  session: ['clicks.csv', 'session_id;user_id;item_id;rating'],
  tsv: ['log.txt', 'user\titem\trating'],
  csv: ['log.csv', 'user,item,rating'],
  'session-lines': ['sessions.txt', 's1 a b c'],
};

type LineFormat = Exclude<DataFormat, 'parquet'>;

/** A data line each line parser accepts (after its header, when it has one); parquet rows: test/data/parquet.test.ts. */
const DATA_LINES: Record<LineFormat, string> = {
  taobao: '1,2268318,2520377,pv,1511544070',
  'amazon-json': '{"reviewerID": "A", "asin": "B", "overall": 5.0, "unixReviewTime": 1}',
  jsonl: '{"user": 1, "item": 2, "rating": 4}',
  'movielens-dat': '1::1193::5::978300760',
  'movielens-udata': '196\t242\t3\t881250949',
  sequence: '1 1 2 3 4 5',
  'movielens-csv': '1,31,2.5,1260759144',
  'amazon-csv': 'AKM1MP6P0OYPR,0132793040,5.0,1365811200',
  session: '1;2;3;4',
  tsv: 'u1\ti1\t5',
  csv: 'u1,i1,5',
  'session-lines': 's1 a b c',
};

function sink(): RecordSink & { rows: number; dropped: number } {
  return {
    rows: 0,
    dropped: 0,
    add() {
      this.rows++;
    },
    drop() {
      this.dropped++;
    },
  };
}

/** The first line a parser is created from: the header, when the format has one. */
function firstLine(format: LineFormat, header: 'required' | 'optional' | 'none'): string {
  if (format === 'movielens-csv') return 'userId,movieId,rating,timestamp';
  if (format === 'taobao') return 'user_id,item_id,category_id,behavior_type,timestamp';
  return header === 'required' ? CASES[format][1] : DATA_LINES[format];
}

describe('format table', () => {
  test('DATA_FORMATS lists each format of the table once', () => {
    assert.deepEqual(
      DATA_FORMATS,
      DATA_FORMAT_INFO.map((f) => f.name),
    );
    assert.equal(new Set(DATA_FORMATS).size, DATA_FORMATS.length);
    assert.deepEqual([...DATA_FORMATS].sort(), Object.keys(CASES).sort());
  });

  for (const format of DATA_FORMATS) {
    const [name, line] = CASES[format];
    const expected = format === 'session-lines' ? 'sequence' : format;
    test(`detects ${format}: ${name} + '${line.slice(0, 30)}' -> ${expected}`, () => assert.equal(detectFormat(name, line), expected));
  }

  for (const info of DATA_FORMAT_INFO.filter((f): f is typeof f & { name: LineFormat } => f.name !== 'parquet')) {
    test(`${info.name}: header '${info.header}' and ratings ${info.ratings} are what its parser does`, () => {
      const options = { delimiter: undefined, columns: {}, minRating: undefined, behaviors: undefined };
      const data = DATA_LINES[info.name];
      // 'none' and 'optional': a first data line is data; 'required' and 'optional': a header is consumed.
      for (const headed of info.header === 'optional' ? [false, true] : [info.header === 'required']) {
        const s = sink();
        const parser = createLineParser(info.name, headed ? firstLine(info.name, info.header) : data, options, s);
        assert.equal(parser.headerConsumed, headed);
        parser.parse(data, 2);
        assert.ok(s.rows > 0, 'the data line adds interactions');
      }
      const first = firstLine(info.name, info.header);
      if (info.ratings) {
        const s = sink();
        createLineParser(info.name, first, { ...options, minRating: 1e9 }, s).parse(data, 2);
        assert.deepEqual([s.rows, s.dropped], [0, 1]);
      } else {
        assert.throws(
          () => createLineParser(info.name, first, { ...options, minRating: 0 }, sink()),
          seqrecError('invalid_argument', /minRating needs ratings/),
        );
      }
    });
  }

  test('session-lines is read when named, and refuses a repeated session', async () => {
    const files = tempFiles({ 'sessions.txt': 's1 a b\ns2 c d\ns1 e f\n' });
    try {
      await assert.rejects(
        loadInteractions(files.path('sessions.txt'), { format: 'session-lines' }),
        seqrecError('data_parse', /session 's1' already appeared on line 1/),
      );
      const log = await loadInteractions(files.path('sessions.txt'));
      assert.equal(log.stats.format, 'sequence');
      assert.deepEqual(
        log.sequences.map((s) => s.items),
        [
          ['a', 'b', 'e', 'f'],
          ['c', 'd'],
        ],
      );
    } finally {
      files.cleanup();
    }
  });
});
