import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SequenceDataset, type SequenceDatasetOptions } from '../../src/data/dataset.js';
import { historyCut, splitUsers } from '../../src/data/split.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import type { EvalBatch, TrainBatch } from '../../src/data/types.js';
import { ItemVocabulary } from '../../src/data/vocabulary.js';
import { seqrecError } from './helpers.js';

const vocab = ItemVocabulary.fromItems(Array.from({ length: 99 }, (_, i) => `i${i + 1}`)); // indices 1..99

/** Sequences of distinct items, so a target item identifies its position. */
function seqs(lengths: number[]): Int32Array[] {
  let next = 1;
  return lengths.map((n) => Int32Array.from({ length: n }, () => next++));
}

interface Row {
  user: number;
  history: number[];
  mask: number[];
  length: number;
  target: number;
}

function rows(batches: Iterable<TrainBatch>): Row[] {
  const out: Row[] = [];
  for (const b of batches) {
    for (let r = 0; r < b.batchSize; r++) {
      out.push({
        user: b.users[r],
        history: [...b.history.subarray(r * b.maxLen, (r + 1) * b.maxLen)],
        mask: [...b.mask.subarray(r * b.maxLen, (r + 1) * b.maxLen)],
        length: b.lengths[r],
        target: b.targets[r],
      });
    }
  }
  return out;
}

function evalRows(batches: Iterable<EvalBatch>): { user: number; history: number[]; length: number; targets: number[] }[] {
  const out = [];
  for (const b of batches) {
    for (let r = 0; r < b.batchSize; r++) {
      out.push({
        user: b.users[r],
        history: [...b.history.subarray(r * b.maxLen, (r + 1) * b.maxLen)],
        length: b.lengths[r],
        targets: [...b.targets[r]],
      });
    }
  }
  return out;
}

const allTrain: SequenceDatasetOptions = { splitRatios: [1, 0, 0] };
const allTest: SequenceDatasetOptions = { splitRatios: [0, 0, 1] };

describe('SequenceDataset: comirec training windows', () => {
  test('windows by hand: right padding, mask, lengths, targets, most recent items kept', () => {
    const ds = SequenceDataset.fromEncoded([Int32Array.of(1, 2, 3, 4, 5, 6)], vocab, { ...allTrain, maxLen: 4, sampling: 'every' });
    const got = rows(ds.trainBatches(0, 2)).sort((a, b) => a.target - b.target);
    assert.deepEqual(got, [
      { user: 0, history: [1, 0, 0, 0], mask: [1, 0, 0, 0], length: 1, target: 2 },
      { user: 0, history: [1, 2, 0, 0], mask: [1, 1, 0, 0], length: 2, target: 3 },
      { user: 0, history: [1, 2, 3, 0], mask: [1, 1, 1, 0], length: 3, target: 4 },
      { user: 0, history: [1, 2, 3, 4], mask: [1, 1, 1, 1], length: 4, target: 5 },
      { user: 0, history: [2, 3, 4, 5], mask: [1, 1, 1, 1], length: 4, target: 6 },
    ]);
  });

  test("'every' covers each target position >= 1 of each train user exactly once per epoch", () => {
    const lengths = [2, 5, 1, 9, 3];
    const sequences = seqs(lengths);
    const ds = SequenceDataset.fromEncoded(sequences, vocab, { ...allTrain, sampling: 'every', maxLen: 3 });
    assert.equal(ds.trainSamplesPerEpoch(), 1 + 4 + 0 + 8 + 2);
    assert.deepEqual([...ds.trainUsers], [0, 1, 3, 4]); // the 1-item user has no target
    for (const epoch of [0, 1]) {
      const got = rows(ds.trainBatches(epoch, 4));
      assert.equal(got.length, 15);
      const seen = new Set(got.map((r) => `${r.user}:${sequences[r.user].indexOf(r.target)}`));
      const expected = new Set(lengths.flatMap((n, u) => Array.from({ length: Math.max(0, n - 1) }, (_, k) => `${u}:${k + 1}`)));
      assert.deepEqual(seen, expected);
      for (const r of got) {
        const k = sequences[r.user].indexOf(r.target);
        assert.equal(r.length, Math.min(3, k));
        assert.deepEqual(r.history.slice(0, r.length), [...sequences[r.user].subarray(k - r.length, k)]);
      }
    }
  });

  test("'random' draws k in [minPrefix, len-1], or [1, len-1] for short sequences", () => {
    const sequences = seqs([10, 3]);
    const ds = SequenceDataset.fromEncoded(sequences, vocab, { ...allTrain, samplesPerUser: 5 });
    assert.equal(ds.trainSamplesPerEpoch(), 10);
    const positions = [new Set<number>(), new Set<number>()];
    for (let epoch = 0; epoch < 40; epoch++) {
      const got = rows(ds.trainBatches(epoch, 3));
      assert.equal(got.length, 10);
      assert.deepEqual(got.map((r) => r.user).sort(), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
      for (const r of got) positions[r.user].add(sequences[r.user].indexOf(r.target));
    }
    assert.deepEqual(
      [...positions[0]].sort((a, b) => a - b),
      [4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(
      [...positions[1]].sort((a, b) => a - b),
      [1, 2],
    );
  });

  test('last partial batch is kept', () => {
    const ds = SequenceDataset.fromEncoded(seqs([4, 4, 4, 4, 4]), vocab, { ...allTrain, sampling: 'every' });
    assert.deepEqual(
      [...ds.trainBatches(0, 4)].map((b) => b.batchSize),
      [4, 4, 4, 3],
    );
    const b = [...ds.trainBatches(0, 4)][3];
    assert.equal(b.history.length, 3 * ds.maxLen);
    assert.equal(b.targets.length, 3);
  });
});

describe('SequenceDataset: determinism', () => {
  const log = generateSynthetic({ numUsers: 300, numItems: 200, numClusters: 10, seed: 5 });
  const make = (seed = 42): SequenceDataset => SequenceDataset.fromLog(log, { seed, samplesPerUser: 2 });

  test('same seed and epoch give identical batches; epoch e reproducible on its own', () => {
    const a = make();
    for (let e = 0; e < 3; e++) Array.from(a.trainBatches(e, 32));
    const afterOthers = [...a.trainBatches(3, 32)];
    const direct = [...make().trainBatches(3, 32)];
    assert.deepEqual(afterOthers, direct);
    assert.deepEqual([...a.trainBatches(3, 32)], direct);
  });

  test('different epochs and seeds differ; samples do not depend on the batch size', () => {
    const ds = make();
    const e0 = rows(ds.trainBatches(0, 32));
    assert.notDeepEqual(rows(ds.trainBatches(1, 32)), e0);
    assert.notDeepEqual(rows(make(7).trainBatches(0, 32)), e0);
    assert.deepEqual(rows(ds.trainBatches(0, 7)), e0);
  });

  test('users are visited in a new order each epoch', () => {
    const ds = make();
    const order = (e: number): number[] => rows(ds.trainBatches(e, 64)).map((r) => r.user);
    assert.notDeepEqual(order(0), order(1));
    assert.deepEqual(
      [...order(0)].sort((x, y) => x - y),
      [...order(1)].sort((x, y) => x - y),
    );
  });

  test('targets are never padding; lengths and masks agree', () => {
    const ds = make();
    for (const r of rows(ds.trainBatches(0, 50))) {
      assert.ok(r.target > 0);
      assert.ok(r.length >= 1 && r.length <= ds.maxLen);
      assert.equal(
        r.mask.reduce((s, m) => s + m, 0),
        r.length,
      );
      assert.ok(r.history.slice(0, r.length).every((i) => i > 0));
      assert.ok(r.history.slice(r.length).every((i) => i === 0));
    }
  });
});

describe('SequenceDataset: comirec evaluation', () => {
  test('history = last maxLen items before the 80% cut, targets = the last 20%', () => {
    const sequences = seqs([10, 30, 1, 2]);
    const ds = SequenceDataset.fromEncoded(sequences, vocab, { ...allTest, maxLen: 5 });
    const got = evalRows(ds.evalBatches('test', 2));
    assert.deepEqual(
      got.map((r) => r.user),
      [0, 1, 3],
    );
    const s0 = [...sequences[0]];
    assert.deepEqual(got[0], { user: 0, history: s0.slice(3, 8), length: 5, targets: s0.slice(8) });
    const s1 = [...sequences[1]];
    assert.deepEqual(got[1], { user: 1, history: s1.slice(19, 24), length: 5, targets: s1.slice(24) });
    const s3 = [...sequences[3]];
    assert.deepEqual(got[2], { user: 3, history: [s3[0], 0, 0, 0, 0], length: 1, targets: [s3[1]] });
    assert.equal(ds.describe().excludedFromEval, 1);
    assert.equal(ds.describe().unusedUsers, 1);
  });

  test('eval targets are the last 20% of each evaluated user, duplicates kept', () => {
    const dup = Int32Array.of(5, 6, 7, 8, 9, 10, 11, 12, 7, 7);
    const ds = SequenceDataset.fromEncoded([dup], vocab, allTest);
    const [r] = evalRows(ds.evalBatches('test', 8));
    assert.deepEqual(r.targets, [7, 7]);
    assert.deepEqual(r.history.slice(0, r.length), [5, 6, 7, 8, 9, 10, 11, 12]);
  });

  test('users follow splitUsers(splitSeed); eval order is fixed', () => {
    const log = generateSynthetic({ numUsers: 200, numItems: 100, numClusters: 5, seed: 3 });
    const ds = SequenceDataset.fromLog(log, { splitSeed: 11 });
    const split = splitUsers(200, { seed: 11 });
    assert.deepEqual(ds.trainUsers, split.train);
    assert.deepEqual(ds.validUsers, split.valid);
    assert.deepEqual(ds.testUsers, split.test);
    assert.deepEqual(evalRows(ds.evalBatches('valid', 16)), evalRows(ds.evalBatches('valid', 16)));
    for (const r of evalRows(ds.evalBatches('valid', 16))) {
      const seq = ds.sequence(r.user);
      assert.deepEqual(r.targets, [...seq.subarray(historyCut(seq.length))]);
    }
  });

  test('itemPopularity counts train users only, padding 0', () => {
    const sequences = [Int32Array.of(1, 2, 2), Int32Array.of(3, 4)];
    const ds = SequenceDataset.fromEncoded(sequences, ItemVocabulary.fromItems(['a', 'b', 'c', 'd']), { splitRatios: [0.5, 0, 0.5], splitSeed: 1 });
    const pop = [...ds.itemPopularity()];
    assert.equal(pop.length, 5);
    const trainUser = ds.trainUsers[0];
    assert.deepEqual(pop, trainUser === 0 ? [0, 1, 2, 0, 0] : [0, 0, 0, 1, 1]);
  });
});

describe('SequenceDataset: leave-one-out', () => {
  test('train on 1..len-3, validate on len-2, test on len-1; short users train only', () => {
    const ds = SequenceDataset.fromEncoded([Int32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(7, 8), Int32Array.of(9)], vocab, {
      protocol: 'loo',
      maxLen: 3,
    });
    assert.equal(ds.options.sampling, 'every');
    const train = rows(ds.trainBatches(0, 10)).sort((a, b) => a.target - b.target);
    assert.deepEqual(
      train.map((r) => [r.user, r.history, r.target]),
      [
        [0, [1, 0, 0], 2],
        [0, [1, 2, 0], 3],
        [0, [1, 2, 3], 4],
        [1, [7, 0, 0], 8],
      ],
    );
    assert.deepEqual(evalRows(ds.evalBatches('valid', 4)), [{ user: 0, history: [2, 3, 4], length: 3, targets: [5] }]);
    assert.deepEqual(evalRows(ds.evalBatches('test', 4)), [{ user: 0, history: [3, 4, 5], length: 3, targets: [6] }]);
    assert.deepEqual([...ds.itemPopularity()].slice(0, 10), [0, 1, 1, 1, 1, 0, 0, 1, 1, 1]);
    const d = ds.describe();
    assert.deepEqual([d.trainUsers, d.validUsers, d.testUsers, d.excludedFromEval, d.unusedUsers], [2, 1, 1, 2, 1]);
  });

  test("'random' sampling draws only training positions", () => {
    const ds = SequenceDataset.fromEncoded([Int32Array.of(1, 2, 3, 4, 5, 6)], vocab, { protocol: 'loo', sampling: 'random', samplesPerUser: 4 });
    const targets = new Set<number>();
    for (let e = 0; e < 20; e++) for (const r of rows(ds.trainBatches(e, 4))) targets.add(r.target);
    assert.deepEqual([...targets].sort(), [2, 3, 4]);
  });
});

describe('SequenceDataset: construction', () => {
  test('fromLog builds a frequency-ranked vocabulary and keeps raw user ids', () => {
    const log = {
      sequences: [
        { user: 'ann', items: ['x', 'y', 'y'], timestamps: [0, 1, 2] },
        { user: 'bob', items: ['z', 'y'], timestamps: [0, 1] },
      ],
      stats: { source: 'test', lines: 2, interactions: 5, skipped: 0, skipReasons: [] },
    };
    const ds = SequenceDataset.fromLog(log);
    assert.deepEqual(ds.vocabulary.items(), ['y', 'x', 'z']);
    assert.deepEqual([...ds.sequence(0)], [2, 1, 1]);
    assert.deepEqual(ds.userIds, ['ann', 'bob']);
    assert.equal(ds.itemCount, 4);
    assert.equal(ds.describe().interactions, 5);
    assert.equal(ds.describe().avgLength, 2.5);
  });

  test('resolved options are defaulted and frozen', () => {
    const ds = SequenceDataset.fromEncoded(seqs([5, 5]), vocab);
    assert.deepEqual(
      { ...ds.options, splitRatios: [...ds.options.splitRatios] },
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
    assert.ok(Object.isFrozen(ds.options));
    assert.ok(Object.isFrozen(ds.options.splitRatios));
  });

  test('the dataset keeps its own copy of the sequences', () => {
    const input = seqs([4]);
    const ds = SequenceDataset.fromEncoded(input, vocab);
    input[0][0] = 99;
    assert.equal(ds.sequence(0)[0], 1);
  });

  test('invalid input and options are rejected', () => {
    assert.throws(() => SequenceDataset.fromEncoded([Int32Array.of(1, 0)], vocab), seqrecError('invalid_argument', /user 0 position 1 has item index 0/));
    assert.throws(() => SequenceDataset.fromEncoded([Int32Array.of(100)], vocab), seqrecError('invalid_argument', /outside 1\.\.99/));
    assert.throws(() => SequenceDataset.fromEncoded([], vocab), seqrecError('data_empty'));
    assert.throws(() => SequenceDataset.fromEncoded(seqs([3]), vocab, { maxLen: 0 }), seqrecError('invalid_config', /maxLen: must be an integer >= 1, got 0/));
    // @ts-expect-error: an unknown protocol, as it could come from a config file
    assert.throws(() => SequenceDataset.fromEncoded(seqs([3]), vocab, { protocol: 'x' }), seqrecError('invalid_config', /protocol/));
    assert.throws(() => SequenceDataset.fromEncoded(seqs([3]), vocab, { splitRatios: [0.5, 0.1, 0.1] }), seqrecError('invalid_argument', /sum to 1/));
    const ds = SequenceDataset.fromEncoded(seqs([3]), vocab);
    assert.throws(() => ds.trainBatches(0, 0), seqrecError('invalid_argument', /batchSize/));
    assert.throws(() => ds.trainBatches(-1, 8), seqrecError('invalid_argument', /epoch/));
    // @ts-expect-error: an unknown split
    assert.throws(() => ds.evalBatches('train', 8), seqrecError('invalid_argument', /split/));
    assert.throws(() => ds.sequence(1), seqrecError('invalid_argument', /out of range/));
  });
});
