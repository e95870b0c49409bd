/**
 * The Amazon presets of `loadInteractions`: amazon-csv and amazon-json (2014 strict JSON, 2018,
 * Python-dict lines), and the Python-literal reader behind them (small files in a temp folder).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { loadInteractions } from '../../src/data/loaders.js';
import { parseObjectLine, parsePythonLiteral } from '../../src/data/python-literal.js';
import { rejectsAt, sequenceRows, tempFiles } from './helpers.js';

const files = tempFiles({
  // A1: 0003 at t=...532800, then 0001 and 0004 tied at ...619200 (file order).
  'ratings_Books.csv': 'A1,0001,5.0,1395619200\n' + 'A2,0002,3.0,1395619100\n' + 'A1,0003,4.0,1395532800\n' + '\n' + 'A1,0004,2.0,1395619200\n',
  'amazon-ratings.txt': 'A1,0001,5.0,1395619200\nA1,0003,4.0,1395532800\n',
  'amazon-bad.csv': 'A1,0001,5.0,1395619200\n' + 'A1,0002,4.0\n' + 'A1,0003,five,1395619200\n' + ',0004,4.0,1395619200\n' + 'A2,0005,1.0,1395619200\n',
  'amazon-header.csv': 'user,item,rating,timestamp\nA1,0001,5.0,1395619200\n',
  // 2014 strict JSON, with nested values and a quote in the text.
  'reviews_Beauty_5.json':
    '{"reviewerID": "A1", "asin": "B2", "reviewerName": "Ann \\"A\\"", "helpful": [2, 3], "reviewText": "ok", "overall": 4.0, "summary": "s", "unixReviewTime": 1300000000, "reviewTime": "03 13, 2011"}\n' +
    '{"reviewerID": "A2", "asin": "B1", "helpful": [0, 0], "overall": 5.0, "unixReviewTime": 1200000000}\n' +
    '{"reviewerID": "A1", "asin": "B1", "helpful": [0, 0], "overall": 2.0, "unixReviewTime": 1200000000}\n' +
    '{"reviewerID": "A1", "asin": "B3", "helpful": [0, 0], "overall": 5.0, "unixReviewTime": 1300000000}\n',
  // 2018: same field names plus vote/style/verified/image.
  'Beauty.json':
    '{"overall": 5.0, "vote": "2", "verified": true, "reviewTime": "02 1, 2018", "reviewerID": "U1", "asin": "I1", "style": {"Size:": " 6"}, "reviewText": "x", "unixReviewTime": 1517443200, "image": ["https://x/y.jpg"]}\n' +
    '{"overall": 3.0, "verified": false, "reviewerID": "U1", "asin": "I2", "unixReviewTime": 1417443200}\n',
  // Python-dict lines (eval-style 2014 dumps), mixed with one strict JSON line.
  'reviews_py.json':
    "{'reviewerID': 'P1', 'asin': 'X1', 'helpful': [0, 0], 'reviewText': \"It's \\xe9t\\u00e9\", 'overall': 5.0, 'verified': True, 'image': None, 'unixReviewTime': 1370000000}\n" +
    "{u'reviewerID': u'P1', u'asin': u'X2', 'style': {'Format:': ' Paperback'}, 'overall': 4.0, 'unixReviewTime': 1360000000L}\n" +
    '{"reviewerID": "P2", "asin": "X1", "overall": 1.0, "unixReviewTime": 1380000000}\n',
  'amazon-bad.json':
    '{"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1}\n' +
    '{"reviewerID": "A1", "asin": }\n' +
    '{"reviewerID": "A1", "asin": "B2", "overall": 5.0}\n' +
    "{'reviewerID': 'A1', 'asin': __import__('os'), 'overall': 5.0, 'unixReviewTime': 2}\n" +
    '["A1", "B3", 5.0, 3]\n' +
    '{"reviewerID": "A1", "asin": "B4", "overall": "great", "unixReviewTime": 4}\n' +
    '{"reviewerID": "A1", "asin": "B5", "overall": 5.0, "unixReviewTime": 5}\n',
  'amazon.jsonl': '{"reviewerID": "A1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1}\n',
});
after(files.cleanup);

describe("format 'amazon-csv'", () => {
  test('header-less user,item,rating,timestamp: detected, stable time order, minRating', async () => {
    const log = await loadInteractions(files.path('ratings_Books.csv'));
    assert.equal(log.stats.format, 'amazon-csv');
    assert.deepEqual(sequenceRows(log), [
      ['A1', ['0003', '0001', '0004'], [1395532800, 1395619200, 1395619200]],
      ['A2', ['0002'], [1395619100]],
    ]);
    assert.equal(log.stats.interactions, 4);
    assert.equal(log.categories, undefined);

    const high = await loadInteractions(files.path('ratings_Books.csv'), { minRating: 4 });
    assert.deepEqual(sequenceRows(high), [['A1', ['0003', '0001'], [1395532800, 1395619200]]]);
    assert.equal(high.stats.filtered, 2);
  });

  test('detected by content under another name', async () => {
    const log = await loadInteractions(files.path('amazon-ratings.txt'));
    assert.equal(log.stats.format, 'amazon-csv');
    assert.deepEqual(log.sequences[0].items, ['0003', '0001']);
  });

  test('malformed lines name file, line and field; skip mode counts them', async () => {
    const path = files.path('amazon-bad.csv');
    await rejectsAt(loadInteractions(path), 'amazon-bad.csv', 2, /expected 4 fields separated by ',' \(user,item,rating,timestamp\), got 3/);
    const log = await loadInteractions(path, { onMalformed: 'skip', maxSkipRate: 1 });
    assert.equal(log.stats.skipped, 3);
    assert.deepEqual(log.stats.skipReasons, [
      "line 2: expected 4 fields separated by ',' (user,item,rating,timestamp), got 3",
      "line 3: rating 'five' is not a number",
      'line 4: empty user id',
    ]);
    assert.deepEqual(sequenceRows(log), [
      ['A1', ['0001'], [1395619200]],
      ['A2', ['0005'], [1395619200]],
    ]);
  });

  test('a header row is an error that points to the csv format', async () => {
    await rejectsAt(
      loadInteractions(files.path('amazon-header.csv'), { format: 'amazon-csv' }),
      'amazon-header.csv',
      1,
      /rating 'rating' is not a number \(amazon-csv files have no header row; for a file with one use format 'csv'\)/,
      'rating',
    );
    // Auto-detection sees a header and reads it as a plain CSV.
    const log = await loadInteractions(files.path('amazon-header.csv'));
    assert.equal(log.stats.format, 'csv');
    assert.deepEqual(log.sequences[0].items, ['0001']);
  });
});

describe("format 'amazon-json'", () => {
  test('2014 strict JSON lines: detected, sorted by unixReviewTime with ties in file order', async () => {
    const log = await loadInteractions(files.path('reviews_Beauty_5.json'));
    assert.equal(log.stats.format, 'amazon-json');
    assert.deepEqual(sequenceRows(log), [
      ['A1', ['B1', 'B2', 'B3'], [1200000000, 1300000000, 1300000000]],
      ['A2', ['B1'], [1200000000]],
    ]);
    const high = await loadInteractions(files.path('reviews_Beauty_5.json'), { minRating: 4 });
    assert.deepEqual(high.sequences[0].items, ['B2', 'B3']);
    assert.equal(high.stats.filtered, 1);
  });

  test('2018 lines (extra vote/style/verified/image fields)', async () => {
    const log = await loadInteractions(files.path('Beauty.json'));
    assert.equal(log.stats.format, 'amazon-json');
    assert.deepEqual(sequenceRows(log), [['U1', ['I2', 'I1'], [1417443200, 1517443200]]]);
  });

  test('Python dict literal lines (single quotes, True/None, u-prefixes, 123L) are read without eval', async () => {
    const log = await loadInteractions(files.path('reviews_py.json'));
    assert.equal(log.stats.format, 'amazon-json');
    assert.deepEqual(sequenceRows(log), [
      ['P1', ['X2', 'X1'], [1360000000, 1370000000]],
      ['P2', ['X1'], [1380000000]],
    ]);
  });

  test('a .jsonl name with review keys is amazon-json, not generic jsonl', async () => {
    const log = await loadInteractions(files.path('amazon.jsonl'));
    assert.equal(log.stats.format, 'amazon-json');
  });

  test('malformed lines: bad JSON, missing keys, code in a Python line, non-objects, bad ratings', async () => {
    const path = files.path('amazon-bad.json');
    await rejectsAt(loadInteractions(path), 'amazon-bad.json', 2, /invalid JSON/);
    const log = await loadInteractions(path, { onMalformed: 'skip', maxSkipRate: 1 });
    assert.equal(log.stats.skipped, 5);
    const reasons = log.stats.skipReasons;
    assert.match(reasons[0], /^line 2: invalid JSON \(/);
    assert.equal(reasons[1], "line 3: missing field 'unixReviewTime'");
    assert.match(reasons[2], /^line 4: not a simple Python dict literal \('__import__' is not a literal at column \d+\); use strict JSON$/);
    assert.equal(reasons[3], 'line 5: expected an object');
    assert.equal(reasons[4], "line 6: rating 'great' is not a number");
    assert.deepEqual(sequenceRows(log), [['A1', ['B1', 'B5'], [1, 5]]]);
  });
});

describe('parsePythonLiteral / parseObjectLine', () => {
  test('literals, nesting and escapes', () => {
    assert.deepEqual(parsePythonLiteral("{'a': [1, -2.5, 3e2, (4,), ()], 'b': {'c': None}, 'd': True, 'e': False,}"), {
      a: [1, -2.5, 300, [4], []],
      b: { c: null },
      d: true,
      e: false,
    });
    assert.equal(parsePythonLiteral(String.raw`'it\'s \"q\" \\ \n\t\x41\u00e9\U0001F600\101\d'`), 'it\'s "q" \\ \n\tAé😀A\\d');
    assert.equal(parsePythonLiteral(`"say 'hi'"`), "say 'hi'");
    assert.equal(parsePythonLiteral("u'x'"), 'x');
    assert.deepEqual(parsePythonLiteral('{1: 2}'), { 1: 2 });
  });

  test('a __proto__ key is a plain key, not a prototype change', () => {
    const obj = parsePythonLiteral("{'__proto__': {'polluted': 1}}") as Record<string, unknown>;
    assert.deepEqual(Object.keys(obj), ['__proto__']);
    assert.equal((obj as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  test('anything that is not a plain literal is refused with a column', () => {
    const bad: [string, RegExp][] = [
      ["{'a': os.system('x')}", /'os' is not a literal at column 7/],
      ["{'a': 1 + 2}", /expected ',' or '}' at column 9/],
      ["{'a': '''x'''}", /triple-quoted/],
      ["{'a': 'open}", /unterminated string/],
      ["{'a': 1} extra", /unexpected text after the value/],
      ["{'a': 1j}", /complex/],
      ["{'a': '\\x4'}", /bad \\x escape/],
      ["{['k']: 1}", /dict keys must be strings or numbers/],
      ['['.repeat(100) + ']'.repeat(100), /nesting deeper than 64/],
      ["{'a': inf}", /'inf' is not a literal/],
    ];
    for (const [text, message] of bad) assert.throws(() => parsePythonLiteral(text), message, text);
  });

  test('parseObjectLine: JSON first, then a Python dict; clear messages', () => {
    assert.deepEqual(parseObjectLine('{"a": 1}'), { a: 1 });
    assert.deepEqual(parseObjectLine("{'a': 1}"), { a: 1 });
    assert.throws(() => parseObjectLine("{'a': foo}"), /not a simple Python dict literal .*; use strict JSON/);
    assert.throws(() => parseObjectLine('{"a": }'), /^SyntaxError: invalid JSON/);
    assert.throws(() => parseObjectLine('[1]'), /expected an object/);
  });
});
