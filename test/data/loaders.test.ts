import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SeqrecError } from '../../src/errors.js';
import { splitDelimited } from '../../src/data/delimited.js';
import { detectFormat, loadInteractions } from '../../src/data/loaders.js';
import { seqrecError, sequenceRows, tempFiles } from './helpers.js';

const files = tempFiles({
  'seq.txt': 'u1 a b c\n\nu2 d e\nu1 f\n',
  'seq-comma.txt': 'u1,a,b\nu2,c\n',
  'seq-bad.txt': 'u1 a b\nlonely\nu2 c\n',
  // user 1: times 5, 3, 3, 1; the two items at time 3 are 'z' then 'a' in file order.
  'ratings.dat': '1::x::4::5\n1::z::3::3\n2::q::5::7\n1::a::1::3\n1::w::2::1\n',
  'bad-fields.dat': '1::x::4::5\n1::y::4::6\n1::z::4\n\n2::q::5::7\n2::r::5\n',
  'bad-time.dat': '1::x::4::5\n1::y::4::soon\n',
  'empty-user.dat': '1::x::4::5\n  ::y::4::6\n',
  'u.data': '1\t10\t5\t100\n2\t11\t3\t50\n1\t12\t4\t90\n',
  'udata.txt': '1\t10\t5\t100\n1\t12\t4\t90\n',
  'ratings.csv': 'userId,movieId,rating,timestamp\n1,10,4.5,20\n1,11,3.0,10\n2,10,5.0,1\n',
  'quoted.csv': 'user_id,item_id,title,timestamp\n' + '1,10,"Toy Story, The (1995)",5\n' + '1,11,"He said ""hi"", twice",3\n' + '2,"12,5",plain,1\n',
  'unterminated.csv': 'user_id,item_id,title,timestamp\n1,10,"oops,5\n',
  'sessions.csv': 'session_id;user_id;item_id;timeframe;eventdate\n7;NA;a;300;2016-01-01\n7;99;b;100;2016-01-01\n8;NA;c;5;2016-01-02\n',
  'custom.csv': 'buyer,when,sku,stars\nann,2,p,1\nann,1,q,5\nbob,1,p,4\n',
  'nocol.csv': 'who,what\nann,p\n',
  'data.tsv': 'user\titem\tts\nann\tp\t2\nann\tq\t1\n',
  'events.jsonl': '{"user": "ann", "item": "p", "ts": 2}\n' + '{"user": "ann", "item": "q", "ts": 1}\n' + '\n' + '{"user": 7, "item": 42, "ts": "3"}\n',
  'bad.jsonl': '{"user": "ann", "item": "p"}\n{"user": "ann", "item": \n[1, 2]\n{"user": "bob"}\n{"user": "bob", "item": "z"}\n',
  'blank.txt': '\n   \n\n',
  'all-bad.dat': '1::x\n2::y\n',
  'crlf.csv': '\uFEFFuser,item,time\r\nann,p,2\r\nann,q,1\r\n',
});
after(files.cleanup);

describe('loadInteractions: sequence format', () => {
  test('groups lines by user in first-seen order, timestamps are positions, blank lines ignored', async () => {
    const log = await loadInteractions(files.path('seq.txt'));
    assert.equal(log.stats.format, 'sequence');
    assert.deepEqual(sequenceRows(log), [
      ['u1', ['a', 'b', 'c', 'f'], [0, 1, 2, 3]],
      ['u2', ['d', 'e'], [0, 1]],
    ]);
    assert.equal(log.stats.lines, 4);
    assert.equal(log.stats.interactions, 6);
    assert.equal(log.stats.skipped, 0);
  });

  test('custom delimiter', async () => {
    const log = await loadInteractions(files.path('seq-comma.txt'), { format: 'sequence', delimiter: ',' });
    assert.deepEqual(
      log.sequences.map((s) => s.items),
      [['a', 'b'], ['c']],
    );
  });

  test('a user without items is malformed', async () => {
    await assert.rejects(
      loadInteractions(files.path('seq-bad.txt')),
      seqrecError('data_parse', /seq-bad\.txt line 2: expected a user id followed by at least one item/),
    );
    const log = await loadInteractions(files.path('seq-bad.txt'), { onMalformed: 'skip', maxSkipRate: 1 });
    assert.equal(log.stats.skipped, 1);
    assert.equal(log.stats.interactions, 3);
  });

  test('minRating is refused for a format without ratings', async () => {
    await assert.rejects(loadInteractions(files.path('seq.txt'), { minRating: 3 }), seqrecError('invalid_argument', /minRating/));
  });
});

describe('loadInteractions: MovieLens formats', () => {
  test('ratings.dat: stable sort by timestamp keeps file order of ties', async () => {
    const log = await loadInteractions(files.path('ratings.dat'));
    assert.equal(log.stats.format, 'movielens-dat');
    assert.deepEqual(
      log.sequences.map((s) => s.user),
      ['1', '2'],
    );
    assert.deepEqual(log.sequences[0].items, ['w', 'z', 'a', 'x']);
    assert.deepEqual(log.sequences[0].timestamps, [1, 3, 3, 5]);
  });

  test('minRating keeps only high ratings and counts the rest as filtered', async () => {
    const log = await loadInteractions(files.path('ratings.dat'), { minRating: 3 });
    assert.deepEqual(log.sequences[0].items, ['z', 'x']);
    assert.equal(log.stats.interactions, 3);
    assert.equal(log.stats.filtered, 2);
    assert.equal(log.stats.skipped, 0);
  });

  test('wrong field count: error names file, line and problem', async () => {
    const path = files.path('bad-fields.dat');
    await assert.rejects(loadInteractions(path), (e: unknown) => {
      assert.ok(e instanceof SeqrecError);
      assert.equal(e.code, 'data_parse');
      assert.equal(e.file, path);
      assert.equal(e.line, 3);
      assert.match(e.message, /bad-fields\.dat line 3: expected 4 fields separated by '::', got 3/);
      return true;
    });
  });

  test("onMalformed 'skip' counts malformed lines (not blank ones) and keeps reasons", async () => {
    const log = await loadInteractions(files.path('bad-fields.dat'), { onMalformed: 'skip', maxSkipRate: 1 });
    assert.equal(log.stats.skipped, 2);
    assert.deepEqual(log.stats.skipReasons, ["line 3: expected 4 fields separated by '::', got 3", "line 6: expected 4 fields separated by '::', got 3"]);
    assert.equal(log.stats.lines, 6);
    assert.equal(log.stats.interactions, 3);
    assert.deepEqual(
      log.sequences.map((s) => s.items),
      [['x', 'y'], ['q']],
    );
  });

  test('non-numeric timestamp and empty ids are malformed, with the field named', async () => {
    await assert.rejects(loadInteractions(files.path('bad-time.dat')), (e: unknown) => {
      assert.ok(e instanceof SeqrecError);
      assert.equal(e.line, 2);
      assert.equal(e.field, 'timestamp');
      assert.match(e.message, /line 2: timestamp 'soon' is not a number/);
      return true;
    });
    await assert.rejects(loadInteractions(files.path('empty-user.dat')), seqrecError('data_parse', /line 2: empty user id/));
  });

  test('u.data by name and by content', async () => {
    const byName = await loadInteractions(files.path('u.data'));
    assert.equal(byName.stats.format, 'movielens-udata');
    assert.deepEqual(byName.sequences[0].items, ['12', '10']);
    const byContent = await loadInteractions(files.path('udata.txt'));
    assert.equal(byContent.stats.format, 'movielens-udata');
    assert.deepEqual(byContent.sequences[0].timestamps, [90, 100]);
  });

  test('ratings.csv: header skipped, sorted by timestamp, minRating', async () => {
    const log = await loadInteractions(files.path('ratings.csv'));
    assert.equal(log.stats.format, 'movielens-csv');
    assert.deepEqual(
      log.sequences.map((s) => [s.user, s.items]),
      [
        ['1', ['11', '10']],
        ['2', ['10']],
      ],
    );
    const high = await loadInteractions(files.path('ratings.csv'), { minRating: 4 });
    assert.deepEqual(high.sequences[0].items, ['10']);
  });
});

describe('loadInteractions: csv, tsv, jsonl', () => {
  test('quoted CSV fields may contain commas and doubled quotes', async () => {
    const log = await loadInteractions(files.path('quoted.csv'));
    assert.equal(log.stats.format, 'csv');
    assert.deepEqual(sequenceRows(log), [
      ['1', ['11', '10'], [3, 5]],
      ['2', ['12,5'], [1]],
    ]);
  });

  test('an unterminated quote is a malformed line', async () => {
    await assert.rejects(loadInteractions(files.path('unterminated.csv')), seqrecError('data_parse', /unterminated\.csv line 2: unterminated quoted field/));
  });

  test('semicolon delimiter inferred; the first matching header (session_id) is the user', async () => {
    const log = await loadInteractions(files.path('sessions.csv'));
    assert.deepEqual(
      log.sequences.map((s) => [s.user, s.items]),
      [
        ['7', ['b', 'a']],
        ['8', ['c']],
      ],
    );
  });

  test('explicit columns and a rating column for minRating', async () => {
    const columns = { user: 'buyer', item: 'sku', time: 'when', rating: 'stars' };
    const log = await loadInteractions(files.path('custom.csv'), { columns });
    assert.deepEqual(
      log.sequences.map((s) => [s.user, s.items]),
      [
        ['ann', ['q', 'p']],
        ['bob', ['p']],
      ],
    );
    const high = await loadInteractions(files.path('custom.csv'), { columns, minRating: 4 });
    assert.deepEqual(
      high.sequences.map((s) => s.items),
      [['q'], ['p']],
    );
  });

  test('a header without a usable column is an error even in skip mode', async () => {
    for (const onMalformed of ['throw', 'skip'] as const) {
      await assert.rejects(
        loadInteractions(files.path('nocol.csv'), { onMalformed }),
        seqrecError('data_parse', /nocol\.csv line 1: no user column found among 'who', 'what'/),
      );
    }
    await assert.rejects(
      loadInteractions(files.path('custom.csv'), { columns: { user: 'buyer', item: 'nope' } }),
      seqrecError('data_parse', /line 1: no column 'nope' for item/),
    );
  });

  test('tsv', async () => {
    const log = await loadInteractions(files.path('data.tsv'));
    assert.equal(log.stats.format, 'tsv');
    assert.deepEqual(log.sequences[0].items, ['q', 'p']);
  });

  test('CRLF line endings and a byte-order mark', async () => {
    const log = await loadInteractions(files.path('crlf.csv'));
    assert.deepEqual(sequenceRows(log), [['ann', ['q', 'p'], [1, 2]]]);
  });

  test('jsonl: numbers become string ids, numeric strings are accepted as times', async () => {
    const log = await loadInteractions(files.path('events.jsonl'));
    assert.equal(log.stats.format, 'jsonl');
    assert.deepEqual(sequenceRows(log), [
      ['ann', ['q', 'p'], [1, 2]],
      ['7', ['42'], [3]],
    ]);
  });

  test('jsonl: bad JSON, non-objects and missing fields', async () => {
    await assert.rejects(loadInteractions(files.path('bad.jsonl')), seqrecError('data_parse', /bad\.jsonl line 2: invalid JSON/));
    const log = await loadInteractions(files.path('bad.jsonl'), { onMalformed: 'skip', maxSkipRate: 1 });
    assert.equal(log.stats.skipped, 3);
    assert.equal(log.stats.skipReasons[0].startsWith('line 2: invalid JSON'), true);
    assert.equal(log.stats.skipReasons[1], 'line 3: expected a JSON object');
    assert.equal(log.stats.skipReasons[2], "line 4: missing field 'item'");
    assert.deepEqual(
      log.sequences.map((s) => s.items),
      [['p'], ['z']],
    );
  });
});

describe('loadInteractions: empty and missing files', () => {
  test('a file with no interactions is data_empty', async () => {
    await assert.rejects(loadInteractions(files.path('blank.txt')), seqrecError('data_empty', /blank\.txt: no interactions/));
    await assert.rejects(
      loadInteractions(files.path('all-bad.dat'), { format: 'movielens-dat', onMalformed: 'skip', maxSkipRate: 1 }),
      seqrecError('data_empty', /2 malformed skipped/),
    );
  });

  test('a missing file names the path', async () => {
    const path = files.path('nope.txt');
    await assert.rejects(loadInteractions(path), (e: unknown) => {
      assert.ok(e instanceof SeqrecError);
      assert.ok(e.message.includes(path), e.message);
      assert.match(e.message, /no such file/);
      return true;
    });
  });

  test('bad options are rejected up front', async () => {
    const path = files.path('seq.txt');
    // @ts-expect-error: an unknown format, as it could come from a CLI
    await assert.rejects(loadInteractions(path, { format: 'xlsx' }), seqrecError('invalid_argument', /unknown format 'xlsx'/));
    await assert.rejects(loadInteractions(path, { delimiter: '' }), seqrecError('invalid_argument', /delimiter/));
  });
});

describe('detectFormat', () => {
  const cases: [string, string, string][] = [
    ['data/ratings.dat', '1::1193::5::978300760', 'movielens-dat'],
    ['x/u.data', '196\t242\t3\t881250949', 'movielens-udata'],
    ['x/u1.base', '196\t242\t3\t881250949', 'movielens-udata'],
    ['ratings.csv', 'userId,movieId,rating,timestamp', 'movielens-csv'],
    ['train-item-views.csv', 'session_id;user_id;item_id;timeframe;eventdate', 'session'],
    ['log.tsv', 'user\titem', 'tsv'],
    ['log.txt', 'user\titem\ttime', 'tsv'],
    ['events.jsonl', '{"user":1}', 'jsonl'],
    ['events.log', '{"user":1}', 'jsonl'],
    ['Beauty.txt', '1 1 2 3 4 5', 'sequence'],
    ['train.txt', '1\t2\t3', 'sequence'],
  ];
  for (const [path, line, expected] of cases) {
    test(`${path}: ${expected}`, () => assert.equal(detectFormat(path, line), expected));
  }
});

describe('splitDelimited', () => {
  test('plain, quoted, doubled quotes, empty fields', () => {
    assert.deepEqual(splitDelimited('a,b,,c', ','), ['a', 'b', '', 'c']);
    assert.deepEqual(splitDelimited('"a,b",c', ','), ['a,b', 'c']);
    assert.deepEqual(splitDelimited('x,"say ""hi""",', ','), ['x', 'say "hi"', '']);
    assert.deepEqual(splitDelimited('"a";"b;c"', ';'), ['a', 'b;c']);
    assert.deepEqual(splitDelimited('x,""', ','), ['x', '']);
  });

  test('text after a closing quote is an error', () => {
    assert.throws(() => splitDelimited('"a"b,c', ','), /after a closing quote/);
  });
});
