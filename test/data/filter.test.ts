import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kCore } from '../../src/data/filter.js';
import type { UserSequence } from '../../src/data/types.js';
import { seqrecError } from './helpers.js';

function seq(user: string, items: string): UserSequence {
  const list = items.split(' ');
  return { user, items: list, timestamps: list.map((_, i) => 10 * i) };
}

// With k = 2: e is rare, so u4 shrinks to [d] and goes; then d is rare, so u3 shrinks to
// [a] and goes. Only iterating reaches the 2-core {u1, u2} x {a, b, c}.
const input = [seq('u1', 'a b c'), seq('u2', 'a b c'), seq('u3', 'a d'), seq('u4', 'd e')];

describe('kCore', () => {
  test('iterative filtering reaches the core', () => {
    const { sequences, report } = kCore(input, { minUserInteractions: 2, minItemInteractions: 2 });
    assert.deepEqual(
      sequences.map((s) => [s.user, s.items]),
      [
        ['u1', ['a', 'b', 'c']],
        ['u2', ['a', 'b', 'c']],
      ],
    );
    assert.deepEqual(report, {
      usersBefore: 4,
      usersAfter: 2,
      itemsBefore: 5,
      itemsAfter: 3,
      interactionsBefore: 10,
      interactionsAfter: 6,
      rounds: 3,
    });
  });

  test('one pass (iterative: false) stops after items then users', () => {
    const { sequences, report } = kCore(input, { minUserInteractions: 2, minItemInteractions: 2, iterative: false });
    assert.deepEqual(
      sequences.map((s) => [s.user, s.items]),
      [
        ['u1', ['a', 'b', 'c']],
        ['u2', ['a', 'b', 'c']],
        ['u3', ['a', 'd']],
      ],
    );
    assert.equal(report.rounds, 1);
    assert.equal(report.interactionsAfter, 8);
    // As ComiRec's preprocess/data.py: item d passed on its 2 interactions over the whole input
    // (u3 and u4), so it stays although u4 left and d now has 1 interaction.
    const d = sequences.flatMap((s) => s.items).filter((i) => i === 'd').length;
    assert.equal(d, 1);
  });

  test('timestamps stay aligned; the input is neither modified nor aliased', () => {
    const users = [seq('u1', 'a x b'), seq('u2', 'a b')];
    const { sequences } = kCore(users, { minUserInteractions: 2, minItemInteractions: 2 });
    assert.deepEqual(sequences[0], { user: 'u1', items: ['a', 'b'], timestamps: [0, 20] });
    assert.deepEqual(users[0].items, ['a', 'x', 'b']);
    assert.notEqual(sequences[1].items, users[1].items);
    sequences[1].items.push('zz');
    assert.deepEqual(users[1].items, ['a', 'b']);
  });

  test('repeated items count once per interaction', () => {
    const { sequences } = kCore([seq('u1', 'a a b'), seq('u2', 'c d')], { minUserInteractions: 1, minItemInteractions: 2 });
    assert.deepEqual(
      sequences.map((s) => s.items),
      [['a', 'a']],
    );
  });

  test('invalid thresholds', () => {
    assert.throws(() => kCore(input, { minUserInteractions: 0 }), seqrecError('invalid_argument', /minUserInteractions/));
    assert.throws(() => kCore(input, { minItemInteractions: 2.5 }), seqrecError('invalid_argument', /minItemInteractions/));
  });
});
