/**
 * The data layer's option objects are strict: an unknown key is an `invalid_config` error
 * naming the key, with a hint when it looks like a typo.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SeqrecError } from '../../src/errors.js';
import { generateSynthetic, kCore, loadInteractions, SequenceDataset, splitUsers } from '../../src/data/index.js';
import { tempFiles } from './helpers.js';

/** Matches an `invalid_config` error for unknown key `field` whose message says `message`. */
function unknownKey(field: string, message: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof SeqrecError, String(e));
    assert.equal(e.code, 'invalid_config', e.message);
    assert.equal(e.field, field, e.message);
    assert.match(e.message, message);
    return true;
  };
}

const log = generateSynthetic({ numUsers: 50, numItems: 40, numClusters: 4, seed: 3 });

describe('unknown option keys', () => {
  test('loadInteractions: top level and columns', async () => {
    const files = tempFiles({ 'log.csv': 'user,item,time\nu1,a,1\n' });
    try {
      const path = files.path('log.csv');
      await assert.rejects(
        loadInteractions(path, { formatt: 'csv' } as never),
        unknownKey('formatt', /^loadInteractions: unknown option 'formatt' \(did you mean 'format'\?\)$/),
      );
      await assert.rejects(
        loadInteractions(path, { columns: { usr: 'user' } } as never),
        unknownKey('columns.usr', /unknown option 'usr' \(did you mean 'user'\?\) in columns/),
      );
      await assert.rejects(loadInteractions(path, { onMalformed: 'skip', zzzzzzzz: 1 } as never), unknownKey('zzzzzzzz', /unknown option 'zzzzzzzz'$/));
      // The options that exist still load.
      assert.equal((await loadInteractions(path, { format: 'csv', columns: { user: 'user' } })).stats.interactions, 1);
    } finally {
      files.cleanup();
    }
  });

  test('SequenceDataset options, including userSplit', () => {
    assert.throws(
      () => SequenceDataset.fromLog(log, { maxlen: 5 } as never),
      unknownKey('maxlen', /^SequenceDataset: unknown option 'maxlen' \(did you mean 'maxLen'\?\)$/),
    );
    assert.throws(() => SequenceDataset.fromLog(log, { samplePerUser: 2 } as never), unknownKey('samplePerUser', /did you mean 'samplesPerUser'/));
    assert.throws(
      () => SequenceDataset.fromLog(log, { userSplit: { train: [0], valid: [1], test: [2], tests: [3] } } as never),
      unknownKey('userSplit.tests', /unknown option 'tests' \(did you mean 'test'\?\) in userSplit/),
    );
    assert.equal(SequenceDataset.fromLog(log, { maxLen: 5 }).maxLen, 5);
  });

  test('kCore and splitUsers options', () => {
    assert.throws(() => kCore(log.sequences, { minUserInteraction: 2 } as never), unknownKey('minUserInteraction', /did you mean 'minUserInteractions'/));
    assert.throws(() => splitUsers(10, { ratio: [0.8, 0.1, 0.1] } as never), unknownKey('ratio', /did you mean 'ratios'/));
  });
});

describe('value rules', () => {
  test('one integer rule: the field, the bound and the value are named', () => {
    const cases: [() => unknown, string, RegExp][] = [
      [() => SequenceDataset.fromLog(log, { minPrefix: 0 }), 'minPrefix', /SequenceDataset: minPrefix: must be an integer >= 1, got 0/],
      [() => SequenceDataset.fromLog(log, { samplesPerUser: 1.5 }), 'samplesPerUser', /samplesPerUser: must be an integer >= 1, got 1\.5/],
      [() => SequenceDataset.fromLog(log, { maxLen: '20' as never }), 'maxLen', /maxLen: must be an integer >= 1, got '20'/],
      [() => kCore(log.sequences, { minItemInteractions: 0 }), 'minItemInteractions', /kCore: minItemInteractions: must be an integer >= 1, got 0/],
    ];
    for (const [run, field, message] of cases) {
      assert.throws(run, (e: unknown) => e instanceof SeqrecError && e.field === field && message.test(e.message), String(message));
    }
  });

  test('defaults and bounds are as documented', () => {
    const d = SequenceDataset.fromLog(log);
    assert.deepEqual(
      { ...d.options, splitRatios: [...d.options.splitRatios] },
      {
        protocol: 'comirec',
        splitRatios: [0.8, 0.1, 0.1],
        splitSeed: 2020,
        seed: 42,
        maxLen: 20,
        minPrefix: 4,
        samplesPerUser: 1,
        sampling: 'random',
        evalRatio: 0.8,
        vocabularyOrder: 'frequency',
      },
    );
    assert.equal(SequenceDataset.fromLog(log, { protocol: 'loo' }).options.sampling, 'every');
    assert.equal(SequenceDataset.fromLog(log, { maxLen: 10_000 }).maxLen, 10_000);
    assert.throws(() => SequenceDataset.fromLog(log, { maxLen: 10_001 }), /maxLen: must be at most 10000, got 10001/);
    assert.throws(() => SequenceDataset.fromLog(log, { evalRatio: 1 }), /evalRatio: must be strictly between 0 and 1, got 1/);
    assert.throws(() => SequenceDataset.fromLog(log, { protocol: 'sasrec' as never }), /protocol: must be one of 'comirec', 'loo', got 'sasrec'/);
  });
});
