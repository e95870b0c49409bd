/**
 * The dataset presets of `loadInteractions`: taobao, session and session-lines, and format
 * detection (small files in a temp folder, plus the Diginetica files in ../shared/data). The
 * Amazon presets are in formats-amazon.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { categoryIndex } from '../../src/data/categories.js';
import { detectFormat, loadInteractions } from '../../src/data/loaders.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { SHARED_DATA, rejectsAt, seqrecError, sequenceRows, skipWithoutSharedData, tempFiles } from './helpers.js';

const files = tempFiles({
  // A1: 0003 at t=...532800, then 0001 and 0004 tied at ...619200 (file order).
  'ratings_Books.csv': 'A1,0001,5.0,1395619200\n' + 'A2,0002,3.0,1395619100\n' + 'A1,0003,4.0,1395532800\n' + '\n' + 'A1,0004,2.0,1395619200\n',
  // user 1: 102 (t=...500000) then 100; 101 is a purchase, 104 a favorite; user 2: 100 is a cart add.
  'UserBehavior.csv':
    '1,100,10,pv,1511544070\n' +
    '1,101,11,buy,1511544000\n' +
    '1,102,10,pv,1511500000\n' +
    '2,100,10,cart,1511600000\n' +
    '2,103,12,pv,1511600001\n' +
    '1,104,13,fav,1511544070\n',
  'taobao-sample.txt': '5,7,9,pv,1511544070\n5,8,9,pv,1511544071\n',
  'taobao-header.csv': 'user_id,item_id,category_id,behavior_type,timestamp\n5,7,9,pv,1511544070\n',
  'taobao-bad.csv':
    '1,100,10,pv,1511544070\n' +
    '1,101,10,pv\n' +
    '1,102,10,click,1511544070\n' +
    '1,103,10,pv,yesterday\n' +
    '1,104,,pv,1511544070\n' +
    '1,100,99,pv,1511544080\n' +
    '1,105,10,pv,1511544090\n',
  // A user column before the session column: auto stays 'csv' (by user); 'session' groups by session.
  'clicks.csv': 'user_id,session_id,item_id,timestamp\nu1,s1,a,3\nu1,s2,b,1\nu1,s1,c,2\nu2,s3,d,5\n',
  'views.csv': 'session_id;user_id;item_id;timeframe;eventdate\n7;NA;a;300;2016-01-01\n7;99;b;100;2016-01-01\n8;NA;c;5;2016-01-02\n7;NA;d;100;2016-01-01\n',
  'views.tsv': 'sessionId\titemId\ttime\ns1\ta\t2\ns1\tb\t1\n',
  'views-bad.csv': 'session_id;item_id;timeframe\n1;a;5\n1;b;2016-05-09\n1;c\n2;d;7\n',
  'nosession.csv': 'user_id,item_id,timestamp\nu1,a,1\n',
  'sessions.txt': 's1 a b a\ns2 c\n\ns3 d e\ns1 f\n',
  'sessions-bad.txt': 's1 a b\ns2\ns3 c\n',
});
after(files.cleanup);

describe("format 'taobao'", () => {
  test("UserBehavior.csv by name: clicks ('pv') only by default, others counted as filtered", async () => {
    const log = await loadInteractions(files.path('UserBehavior.csv'));
    assert.equal(log.stats.format, 'taobao');
    assert.deepEqual(sequenceRows(log), [
      ['1', ['102', '100'], [1511500000, 1511544070]],
      ['2', ['103'], [1511600001]],
    ]);
    assert.equal(log.stats.filtered, 3);
    assert.equal(log.stats.categoryConflicts, 0);
    assert.deepEqual(
      [...log.categories!],
      [
        ['100', '10'],
        ['102', '10'],
        ['103', '12'],
      ],
    );
  });

  test('behaviors option keeps the chosen behavior types', async () => {
    const log = await loadInteractions(files.path('UserBehavior.csv'), { behaviors: ['pv', 'buy', 'cart'] });
    assert.deepEqual(sequenceRows(log), [
      ['1', ['102', '101', '100'], [1511500000, 1511544000, 1511544070]],
      ['2', ['100', '103'], [1511600000, 1511600001]],
    ]);
    assert.equal(log.stats.filtered, 1);
    assert.equal(log.categories!.get('101'), '11');
    const all = await loadInteractions(files.path('UserBehavior.csv'), { behaviors: ['pv', 'buy', 'cart', 'fav'] });
    assert.equal(all.stats.interactions, 6);
    assert.equal(all.stats.filtered, 0);
  });

  test('detected by row shape under another name; an exact header line is skipped', async () => {
    const log = await loadInteractions(files.path('taobao-sample.txt'));
    assert.equal(log.stats.format, 'taobao');
    assert.deepEqual(log.sequences[0].items, ['7', '8']);
    const withHeader = await loadInteractions(files.path('taobao-header.csv'));
    assert.equal(withHeader.stats.format, 'taobao');
    assert.equal(withHeader.stats.interactions, 1);
  });

  test('malformed lines; a conflicting category keeps the first and is counted', async () => {
    const path = files.path('taobao-bad.csv');
    await rejectsAt(
      loadInteractions(path, { format: 'taobao' }),
      'taobao-bad.csv',
      2,
      /expected 5 fields separated by ',' \(user,item,category,behavior,timestamp\), got 4/,
    );
    const log = await loadInteractions(path, { onMalformed: 'skip', maxSkipRate: 1 });
    assert.deepEqual(log.stats.skipReasons, [
      "line 2: expected 5 fields separated by ',' (user,item,category,behavior,timestamp), got 4",
      "line 3: behavior 'click' is not one of pv, buy, cart, fav",
      "line 4: timestamp 'yesterday' is not a number",
      'line 5: empty category id',
    ]);
    assert.deepEqual(sequenceRows(log), [['1', ['100', '100', '105'], [1511544070, 1511544080, 1511544090]]]);
    assert.equal(log.stats.categoryConflicts, 1);
    assert.equal(log.categories!.get('100'), '10');
  });

  test('option errors: bad behaviors, behaviors without taobao, minRating', async () => {
    const path = files.path('UserBehavior.csv');
    await assert.rejects(
      // @ts-expect-error: an unknown behavior, as it could come from untyped input
      loadInteractions(path, { behaviors: ['click'] }),
      seqrecError('invalid_argument', /behaviors: must be a non-empty array of pv, buy, cart, fav/),
    );
    await assert.rejects(loadInteractions(path, { behaviors: [] }), seqrecError('invalid_argument', /behaviors: must be a non-empty array/));
    await assert.rejects(
      loadInteractions(files.path('ratings_Books.csv'), { format: 'amazon-csv', behaviors: ['pv'] }),
      seqrecError('invalid_argument', /behaviors only applies to the 'taobao' format, not 'amazon-csv'/),
    );
    // Auto-detected: only known once the first line is read.
    await assert.rejects(loadInteractions(files.path('ratings_Books.csv'), { behaviors: ['pv'] }), seqrecError('invalid_argument', /not 'amazon-csv'/));
    await assert.rejects(
      loadInteractions(path, { minRating: 3 }),
      seqrecError('invalid_argument', /minRating needs ratings, but the 'taobao' format has none/),
    );
  });

  test('categoryIndex turns the raw map into item index -> dense category', async () => {
    const log = await loadInteractions(files.path('UserBehavior.csv'), { behaviors: ['pv', 'buy'] });
    const vocab = ItemVocabulary.build(log.sequences, { order: 'firstSeen' }); // 102, 101, 100, 103
    const { itemCategory, names } = categoryIndex(log.categories!, vocab);
    assert.deepEqual([...itemCategory], [-1, 0, 1, 0, 2]);
    assert.deepEqual(names, ['10', '11', '12']);
    // Items missing from the map, or from the vocabulary, are simply left out.
    const partial = categoryIndex(
      new Map([
        ['101', 'x'],
        ['zzz', 'y'],
      ]),
      vocab,
    );
    assert.deepEqual([...partial.itemCategory], [-1, -1, 0, -1, -1]);
  });
});

describe("format 'session' (header) and 'session-lines'", () => {
  test('a header with a user column first: auto stays csv (by user); session groups by session_id', async () => {
    const byUser = await loadInteractions(files.path('clicks.csv'));
    assert.equal(byUser.stats.format, 'csv');
    assert.deepEqual(
      byUser.sequences.map((s) => s.user),
      ['u1', 'u2'],
    );
    const bySession = await loadInteractions(files.path('clicks.csv'), { format: 'session' });
    assert.equal(bySession.stats.format, 'session');
    assert.deepEqual(sequenceRows(bySession), [
      ['s1', ['c', 'a'], [2, 3]],
      ['s2', ['b'], [1]],
      ['s3', ['d'], [5]],
    ]);
  });

  test('Diginetica-style header: detected, grouped by session, ties keep file order', async () => {
    const log = await loadInteractions(files.path('views.csv'));
    assert.equal(log.stats.format, 'session');
    assert.deepEqual(sequenceRows(log), [
      ['7', ['b', 'd', 'a'], [100, 100, 300]],
      ['8', ['c'], [5]],
    ]);
    const tsv = await loadInteractions(files.path('views.tsv'));
    assert.equal(tsv.stats.format, 'session');
    assert.deepEqual(sequenceRows(tsv), [['s1', ['b', 'a'], [1, 2]]]);
  });

  test('columns.user names the session column explicitly', async () => {
    const log = await loadInteractions(files.path('clicks.csv'), { format: 'session', columns: { user: 'user_id' } });
    assert.deepEqual(
      log.sequences.map((s) => s.user),
      ['u1', 'u2'],
    );
  });

  test('no session column is a header error, even when skipping', async () => {
    for (const onMalformed of ['throw', 'skip'] as const) {
      await rejectsAt(
        loadInteractions(files.path('nosession.csv'), { format: 'session', onMalformed }),
        'nosession.csv',
        1,
        /no session column found among 'user_id', 'item_id', 'timestamp'; name it with options.columns.user, or use format 'csv'/,
        'session',
      );
    }
  });

  test('malformed session rows: a date as time, a missing field', async () => {
    const path = files.path('views-bad.csv');
    await rejectsAt(loadInteractions(path), 'views-bad.csv', 3, /timestamp '2016-05-09' is not a number/, 'timestamp');
    const log = await loadInteractions(path, { onMalformed: 'skip', maxSkipRate: 1 });
    assert.deepEqual(log.stats.skipReasons, [
      "line 3: timestamp '2016-05-09' is not a number",
      "line 4: expected 3 fields separated by ';' (as in the header), got 2",
    ]);
    assert.deepEqual(sequenceRows(log), [
      ['1', ['a'], [5]],
      ['2', ['d'], [7]],
    ]);
  });

  test("session-lines: one line per session; a repeated session id is malformed (auto reads 'sequence')", async () => {
    const path = files.path('sessions.txt');
    await rejectsAt(
      loadInteractions(path, { format: 'session-lines' }),
      'sessions.txt',
      5,
      /session 's1' already appeared on line 1 \(one line per session\)/,
      'session',
    );
    const log = await loadInteractions(path, { format: 'session-lines', onMalformed: 'skip', maxSkipRate: 1 });
    assert.equal(log.stats.format, 'session-lines');
    assert.deepEqual(sequenceRows(log), [
      ['s1', ['a', 'b', 'a'], [0, 1, 2]],
      ['s2', ['c'], [0]],
      ['s3', ['d', 'e'], [0, 1]],
    ]);
    // The same file auto-detected is a user-sequence file, where a user may span lines.
    const seq = await loadInteractions(path);
    assert.equal(seq.stats.format, 'sequence');
    assert.deepEqual(seq.sequences[0].items, ['a', 'b', 'a', 'f']);
  });

  test('session-lines: a session without items; minRating refused', async () => {
    await rejectsAt(
      loadInteractions(files.path('sessions-bad.txt'), { format: 'session-lines' }),
      'sessions-bad.txt',
      2,
      /expected a session id followed by at least one item/,
    );
    await assert.rejects(
      loadInteractions(files.path('sessions.txt'), { format: 'session-lines', minRating: 1 }),
      seqrecError('invalid_argument', /'session-lines' format has none/),
    );
  });
});

describe('detectFormat: presets', () => {
  const cases: [string, string, string][] = [
    ['ratings_Books.csv', 'AKM1MP6P0OYPR,0132793040,5.0,1365811200', 'amazon-csv'],
    ['ratings.txt', 'AKM1MP6P0OYPR,0132793040,5.0,1365811200', 'amazon-csv'],
    ['ml/ratings.csv', '1,31,2.5,1260759144', 'amazon-csv'],
    ['seq.txt', '1,2,3,4', 'csv'],
    ['seq.txt', 'u1,i1,3.0,1234', 'csv'],
    ['reviews_Books_5.json', '{"reviewerID": "A", "asin": "B", "overall": 5.0, "unixReviewTime": 1}', 'amazon-json'],
    ['Books.json', "{'reviewerID': 'A', 'asin': 'B'}", 'amazon-json'],
    ['meta_Books.json', "{'asin': 'B', 'title': 'T'}", 'jsonl'],
    ['events.jsonl', '{"user": "A", "asin": "B"}', 'jsonl'],
    ['UserBehavior.csv', '1,2268318,2520377,pv,1511544070', 'taobao'],
    ['data/userbehavior.csv', 'anything', 'taobao'],
    ['x.txt', '1,2268318,2520377,buy,1511544070', 'taobao'],
    ['x.csv', 'user_id,item_id,category_id,behavior_type,timestamp', 'taobao'],
    ['x.csv', '1,2,3,click,4', 'csv'],
    ['train-item-views.csv', 'session_id;user_id;item_id;timeframe;eventdate', 'session'],
    ['clicks.txt', 'sessionId,itemId,time', 'session'],
    ['clicks.tsv', 'session\titem\ttime', 'session'],
    ['clicks.txt', 'session\titem\ttime', 'session'],
    ['clicks.csv', 'user_id,session_id,item_id,time', 'csv'],
    ['train.txt', '1 214652220 214684093', 'sequence'],
  ];
  for (const [path, line, expected] of cases) {
    test(`${path}: ${line.slice(0, 40)} -> ${expected}`, () => assert.equal(detectFormat(path, line), expected));
  }
});

describe('presets on real data', { skip: skipWithoutSharedData }, () => {
  test('diginetica-sample train-item-views.csv as session: 2,986 sessions, 7,139 items, 12,391 views', async () => {
    const path = join(SHARED_DATA, 'diginetica-sample/train-item-views.csv');
    const auto = await loadInteractions(path);
    const log = await loadInteractions(path, { format: 'session' });
    assert.equal(auto.stats.format, 'session');
    assert.deepEqual(auto.sequences, log.sequences);
    assert.equal(log.stats.lines, 12392);
    assert.equal(log.stats.interactions, 12391);
    assert.equal(log.sequences.length, 2986);
    assert.equal(new Set(log.sequences.flatMap((s) => s.items)).size, 7139);
    assert.equal(log.sequences.filter((s) => s.items.length === 1).length, 933);
    assert.equal(Math.max(...log.sequences.map((s) => s.items.length)), 54);

    // Independent expectation: every session ordered by timeframe, ties in file order.
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .slice(1)
      .filter((l) => l.trim() !== '');
    const bySession = new Map<string, { item: string; t: number; i: number }[]>();
    lines.forEach((l, i) => {
      const [session, , item, timeframe] = l.split(';');
      if (!bySession.has(session)) bySession.set(session, []);
      bySession.get(session)!.push({ item, t: Number(timeframe), i });
    });
    assert.deepEqual(
      log.sequences.map((s) => s.user),
      [...bySession.keys()],
    );
    for (const s of log.sequences) {
      const expected = bySession.get(s.user)!.sort((a, b) => a.t - b.t || a.i - b.i);
      assert.deepEqual(
        s.items,
        expected.map((r) => r.item),
      );
      assert.deepEqual(
        s.timestamps,
        expected.map((r) => r.t),
      );
    }
  });

  test('diginetica test.txt as session-lines: 15,963 sessions, 76,821 clicks, 21,131 items', async () => {
    const path = join(SHARED_DATA, 'diginetica/test.txt');
    const log = await loadInteractions(path, { format: 'session-lines' });
    assert.equal(log.stats.format, 'session-lines');
    assert.equal(log.sequences.length, 15963);
    assert.equal(log.stats.interactions, 76821);
    assert.equal(new Set(log.sequences.flatMap((s) => s.items)).size, 21131);
    assert.equal(log.sequences[0].user, '186671');
    assert.equal(log.sequences[log.sequences.length - 1].user, '202633');
    const lengths = log.sequences.map((s) => s.items.length);
    assert.equal(Math.min(...lengths), 2);
    assert.equal(Math.max(...lengths), 41);
    // SR-GNN's evaluation cases: every prefix -> next item.
    assert.equal(
      lengths.reduce((a, n) => a + n - 1, 0),
      60858,
    );
    assert.deepEqual(log.sequences[0].items, ['21553', '20071', '8762', '21566', '6381', '21566']);
    // Auto-detection cannot tell sessions from user sequences: it reads 'sequence', same content.
    const auto = await loadInteractions(path);
    assert.equal(auto.stats.format, 'sequence');
    assert.deepEqual(auto.sequences, log.sequences);
  });
});
