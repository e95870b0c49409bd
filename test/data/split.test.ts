import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { historyCut, leaveOneOut, splitUsers } from '../../src/data/split.js';
import { seqrecError } from './helpers.js';

describe('splitUsers', () => {
  test('disjoint, covers every user, sorted, ComiRec cut points', () => {
    const { train, valid, test: testSet } = splitUsers(1000);
    assert.deepEqual([train.length, valid.length, testSet.length], [800, 100, 100]);
    const all = [...train, ...valid, ...testSet].sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: 1000 }, (_, i) => i),
    );
    for (const part of [train, valid, testSet]) {
      for (let i = 1; i < part.length; i++) assert.ok(part[i - 1] < part[i]);
    }
  });

  test('sizes are within 1 of the ratios for many sizes', () => {
    const ratios: [number, number, number] = [0.7, 0.2, 0.1];
    for (let n = 0; n <= 60; n++) {
      const s = splitUsers(n, { ratios, seed: n });
      [s.train, s.valid, s.test].forEach((part, i) => assert.ok(Math.abs(part.length - n * ratios[i]) <= 1, `n=${n} split ${i}: ${part.length}`));
      assert.equal(s.train.length + s.valid.length + s.test.length, n);
    }
    // (0.7 + 0.2) * 10 is 8.999999999999998 in floating point; the cut must still be at 9.
    const ten = splitUsers(10, { ratios });
    assert.deepEqual([ten.train.length, ten.valid.length, ten.test.length], [7, 2, 1]);
  });

  test('same seed, same split; different seed, different split', () => {
    assert.deepEqual(splitUsers(500, { seed: 7 }), splitUsers(500, { seed: 7 }));
    assert.notDeepEqual(splitUsers(500, { seed: 7 }).test, splitUsers(500, { seed: 8 }).test);
    assert.notDeepEqual(splitUsers(500).test, splitUsers(500, { seed: 2021 }).test);
  });

  test('invalid ratios', () => {
    assert.throws(() => splitUsers(10, { ratios: [0.8, 0.1, 0.2] }), seqrecError('invalid_argument', /sum to 1/));
    assert.throws(() => splitUsers(10, { ratios: [1.2, -0.1, -0.1] }), seqrecError('invalid_argument', /ratios\[0\]/));
    assert.throws(() => splitUsers(-1), seqrecError('invalid_argument', /numUsers/));
  });
});

describe('historyCut', () => {
  test('floor(length * ratio), clamped to [1, length-1]', () => {
    assert.equal(historyCut(10), 8);
    assert.equal(historyCut(5), 4);
    assert.equal(historyCut(4), 3);
    assert.equal(historyCut(3), 2);
    assert.equal(historyCut(2), 1);
    assert.equal(historyCut(11), 8);
    assert.equal(historyCut(100, 0.5), 50);
    assert.equal(historyCut(10, 0.05), 1);
    assert.equal(historyCut(10, 0.99), 9);
  });

  test('needs at least 2 items and a ratio in (0, 1)', () => {
    assert.throws(() => historyCut(1), seqrecError('invalid_argument', /length/));
    assert.throws(() => historyCut(10, 1), seqrecError('invalid_argument', /evalRatio/));
  });
});

describe('leaveOneOut', () => {
  test('valid is the second to last, test the last position', () => {
    assert.deepEqual(leaveOneOut(5), { trainEnd: 3, valid: 3, test: 4 });
    assert.deepEqual(leaveOneOut(3), { trainEnd: 1, valid: 1, test: 2 });
    assert.throws(() => leaveOneOut(2), seqrecError('invalid_argument'));
  });
});
