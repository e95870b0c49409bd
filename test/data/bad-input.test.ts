/**
 * Issue #14 item 12: the loaders refuse bad data instead of changing it silently: repeated
 * headers, non-finite numbers, binary input, mostly malformed files, over-long ids and
 * datasets too small to train and evaluate on.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { SequenceDataset } from '../../src/data/dataset.js';
import { MAX_ID_LENGTH } from '../../src/data/fields.js';
import { loadInteractions } from '../../src/data/loaders.js';
import { Random } from '../../src/util/random.js';
import { SeqrecError } from '../../src/errors.js';
import { GRU4Rec } from '../../src/models/gru4rec.js';
import { Trainer } from '../../src/train/trainer.js';
import { setupBackend } from '../helpers.js';
import { parseErrorAt, seqrecError, tempFiles } from './helpers.js';

before(setupBackend);

const longId = 'x'.repeat(MAX_ID_LENGTH + 1);
// Random bytes (seeded): what `seqrec train` was once fed as a 'sequence' file. The first
// lines are text, so only a look at the bytes before parsing can tell.
const rng = new Random(7);
const noise = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => rng.int(256)));
const binary = Buffer.concat([Buffer.from('u1 a b\nu2 a c\n'), noise(4096), Buffer.from([0]), noise(4096)]);

const files = tempFiles({
  // Two files concatenated: the second header must not become user 'user', item 'item'.
  'joined.csv': 'user,item\nu1,a\nu1,b\nuser,item\nu2,c\n',
  'joined.tsv': 'user_id\titem_id\ttimestamp\nu1\ta\t1\n user_id \titem_id\ttimestamp\nu2\tc\t2\n',
  'inf-time.dat': 'u1::a::5::100\nu1::b::4::1e999\n',
  'inf-rating.data': '1\t10\t5\t100\n1\t11\t1e999\t101\n',
  'nan-time.csv': 'user,item,timestamp\nu1,a,1\nu1,b,NaN\n',
  'infinity-time.csv': 'user,item,timestamp\nu1,a,1\nu1,b,-Infinity\n',
  'inf-time.jsonl': '{"user":"u1","item":"a","timestamp":1}\n{"user":"u1","item":"b","timestamp":"1e999"}\n',
  'inf-rating.csv': 'user,item,rating\nu1,a,5\nu1,b,-1e400\n',
  'long-item.txt': `u1 a b\nu2 a ${longId}\n`,
  'long-user.csv': `user,item\nu1,a\n${longId},b\n`,
  'ok-512.txt': `u1 a ${'y'.repeat(MAX_ID_LENGTH)}\n`,
  // 20 good lines and 3 bad ones: 13% skipped.
  'mostly-good.txt': Array.from({ length: 20 }, (_, i) => `u${i} a b`).join('\n') + '\nbad\nbad\nbad\n',
  'mostly-bad.txt': Array.from({ length: 10 }, (_, i) => `u${i} a b`).join('\n') + '\n' + 'x\n'.repeat(90),
  'one-user.txt': 'u1 a b c d e f g h i j\n',
  'two-users.txt': 'u1 a b c d\nu2 a b c d\n',
});
const binaryFile = files.path('random.bin');
// tempFiles writes strings; the binary file needs its bytes as they are.
writeFileSync(binaryFile, binary);
// No NUL, but bytes that are not UTF-8: a Latin-1 or compressed file read as text.
const latin = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i % 50 === 49 ? 10 : 0x80 + (i % 100))));
writeFileSync(files.path('not-utf8.txt'), latin);
// A few Latin-1 accents in otherwise plain text: not binary, but not UTF-8 either.
writeFileSync(files.path('accents.txt'), Buffer.concat([Buffer.from('u1 a b\nu2 caf'), Buffer.from([0xe9]), Buffer.from(' b\nu3 a b\n')]));
writeFileSync(files.path('accent-header.csv'), Buffer.concat([Buffer.from('user,it'), Buffer.from([0xe9]), Buffer.from('m\nu1,a\n')]));

after(() => files.cleanup());

describe('a repeated header line', () => {
  test('in a CSV without a time column is an error naming file and line, not user "user"', async () => {
    await assert.rejects(loadInteractions(files.path('joined.csv')), parseErrorAt('joined.csv', 4, /repeats the header/));
  });

  test('in a TSV, padded with spaces, is found too', async () => {
    await assert.rejects(loadInteractions(files.path('joined.tsv')), parseErrorAt('joined.tsv', 3, /repeats the header/));
  });

  test('is skipped, never loaded, in skip mode', async () => {
    const log = await loadInteractions(files.path('joined.csv'), { onMalformed: 'skip', maxSkipRate: 1 });
    assert.deepEqual(
      log.sequences.map((s) => s.user),
      ['u1', 'u2'],
    );
    assert.equal(log.stats.skipped, 1);
  });
});

describe('non-finite numbers', () => {
  test('1e999 as a timestamp (MovieLens .dat) names file, line and field', async () => {
    await assert.rejects(
      loadInteractions(files.path('inf-time.dat')),
      parseErrorAt('inf-time.dat', 2, /timestamp '1e999' is not a finite number/, 'timestamp'),
    );
  });

  test('1e999 as a rating (u.data) names file, line and field', async () => {
    await assert.rejects(
      loadInteractions(files.path('inf-rating.data'), { format: 'movielens-udata' }),
      parseErrorAt('inf-rating.data', 2, /rating '1e999' is not a finite number/, 'rating'),
    );
  });

  test('NaN and -Infinity timestamps in a CSV', async () => {
    await assert.rejects(loadInteractions(files.path('nan-time.csv')), parseErrorAt('nan-time.csv', 3, /timestamp 'NaN' is not a/, 'timestamp'));
    await assert.rejects(
      loadInteractions(files.path('infinity-time.csv')),
      parseErrorAt('infinity-time.csv', 3, /timestamp '-Infinity' is not a/, 'timestamp'),
    );
  });

  test('a string "1e999" in JSONL and a -1e400 rating under minRating', async () => {
    await assert.rejects(loadInteractions(files.path('inf-time.jsonl')), parseErrorAt('inf-time.jsonl', 2, /not a finite number/, 'timestamp'));
    await assert.rejects(
      loadInteractions(files.path('inf-rating.csv'), { minRating: 1 }),
      parseErrorAt('inf-rating.csv', 3, /rating '-1e400' is not a finite number/, 'rating'),
    );
  });
});

describe('binary and mostly malformed input', () => {
  test('random bytes are refused as binary, even as --format sequence with skipping', async () => {
    for (const onMalformed of ['throw', 'skip'] as const) {
      await assert.rejects(loadInteractions(binaryFile, { format: 'sequence', onMalformed }), (e: unknown) => {
        assert.ok(e instanceof SeqrecError, String(e));
        assert.equal(e.code, 'data_parse');
        assert.equal(e.file, binaryFile);
        assert.match(e.message, /random\.bin.*binary/);
        return true;
      });
    }
  });

  test('text that is mostly not UTF-8 is binary; a line with a stray byte is malformed, never an altered id', async () => {
    await assert.rejects(
      loadInteractions(files.path('not-utf8.txt'), { onMalformed: 'skip' }),
      seqrecError('data_parse', /not-utf8\.txt line 1: .*binary.*invalid UTF-8/),
    );
    // Decoded, 'caf\xe9' would be 'caf\uFFFD', the same id as any other 'caf' + stray byte.
    await assert.rejects(loadInteractions(files.path('accents.txt')), parseErrorAt('accents.txt', 2, /not valid UTF-8.*iconv/));
    const log = await loadInteractions(files.path('accents.txt'), { onMalformed: 'skip', maxSkipRate: 1 });
    assert.deepEqual(
      log.sequences.map((s) => s.user),
      ['u1', 'u3'],
    );
    assert.equal(log.stats.skipped, 1);
    // A header line that is not UTF-8 cannot be skipped: the next line would become the header.
    await assert.rejects(
      loadInteractions(files.path('accent-header.csv'), { onMalformed: 'skip', maxSkipRate: 1 }),
      parseErrorAt('accent-header.csv', 1, /not valid UTF-8/),
    );
  });

  test('more than 10% of lines skipped is refused, with the counts', async () => {
    await assert.rejects(
      loadInteractions(files.path('mostly-bad.txt'), { onMalformed: 'skip' }),
      seqrecError('data_parse', /mostly-bad\.txt: 90 of 100 lines are malformed \(90\.0%, more than maxSkipRate 10%\)/),
    );
    await assert.rejects(loadInteractions(files.path('mostly-good.txt'), { onMalformed: 'skip' }), seqrecError('data_parse', /3 of 23 lines/));
  });

  test('maxSkipRate raises the threshold; it must be in [0, 1]', async () => {
    const log = await loadInteractions(files.path('mostly-good.txt'), { onMalformed: 'skip', maxSkipRate: 0.2 });
    assert.equal(log.stats.skipped, 3);
    assert.equal(log.sequences.length, 20);
    await assert.rejects(loadInteractions(files.path('mostly-good.txt'), { maxSkipRate: 2 }), seqrecError('invalid_argument', /maxSkipRate/));
  });
});

describe('id length', () => {
  test(`ids longer than MAX_ID_LENGTH (${MAX_ID_LENGTH}, the server's limit) name file, line and field`, async () => {
    await assert.rejects(loadInteractions(files.path('long-item.txt')), parseErrorAt('long-item.txt', 2, /item id of 513 characters.*512/, 'item'));
    await assert.rejects(loadInteractions(files.path('long-user.csv')), parseErrorAt('long-user.csv', 3, /user id of 513 characters/, 'user'));
  });

  test('an id of exactly MAX_ID_LENGTH characters loads', async () => {
    const log = await loadInteractions(files.path('ok-512.txt'));
    assert.equal(log.sequences[0].items[1].length, MAX_ID_LENGTH);
  });
});

describe('too small datasets', () => {
  test('one user: training says which split is too small, not "no users were evaluated"', async () => {
    const log = await loadInteractions(files.path('one-user.txt'));
    const data = SequenceDataset.fromLog(log, { maxLen: 5 });
    const model = new GRU4Rec({ itemCount: data.itemCount, embeddingDim: 8, maxLen: 5 });
    await assert.rejects(new Trainer(model, { epochs: 1 }).fit(data), (e: unknown) => {
      assert.ok(e instanceof SeqrecError, String(e));
      assert.equal(e.code, 'data_empty');
      assert.match(e.message, /too small/);
      assert.match(e.message, /1 user/);
      assert.match(e.message, /0 valid users/);
      assert.doesNotMatch(e.message, /no users were evaluated/);
      return true;
    });
    model.dispose();
  });

  test('assertSplits names the empty split and the users and items behind it', async () => {
    const data = SequenceDataset.fromLog(await loadInteractions(files.path('two-users.txt')), { maxLen: 5 });
    assert.throws(() => data.assertSplits(['train', 'valid', 'test']), seqrecError('data_empty', /2 users, 4 items.*: no valid users/));
    // The 'loo' protocol evaluates every user with >= 3 items, so both splits have users.
    const loo = SequenceDataset.fromLog(await loadInteractions(files.path('two-users.txt')), { maxLen: 5, protocol: 'loo' });
    loo.assertSplits(['train', 'valid', 'test']);
  });
});
