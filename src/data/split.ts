/**
 * Evaluation splits: users into train/valid/test (ComiRec), the history/target cut of an
 * evaluated sequence, and leave-one-out target positions (SASRec).
 */
import { z } from 'zod';
import { SeqrecError, assertInteger } from '../errors.js';
import { finite, inRange, parseOptions } from './rules.js';
import { Random } from '../util/random.js';

export interface UserSplit {
  /** User indices, each split sorted ascending. */
  train: Int32Array;
  valid: Int32Array;
  test: Int32Array;
}

export interface SplitUsersOptions {
  /** Fractions of users for train, valid, test; each >= 0, summing to 1. Default [0.8, 0.1, 0.1]. */
  ratios?: readonly [number, number, number];
  /** Seed of the shuffle. Default 2020. */
  seed?: number;
}

const ratio = inRange(0, 1);
const splitUsersSchema = z.strictObject({
  ratios: z
    .custom<readonly [number, number, number]>((v) => Array.isArray(v) && v.length === 3, { error: () => 'must be three numbers [train, valid, test]' })
    .pipe(z.tuple([ratio, ratio, ratio]))
    .optional(),
  seed: finite.optional(),
});

/** Tolerance for ratios that are meant to sum to exactly 1 or cut at an exact integer. */
const EPS = 1e-9;

/**
 * Shuffles users 0..numUsers-1 with `Random(seed)` and cuts the shuffled list at
 * floor(r0·n) and floor((r0+r1)·n), as ComiRec's preprocessing does.
 */
export function splitUsers(numUsers: number, options: SplitUsersOptions = {}): UserSplit {
  assertInteger(numUsers, 'numUsers', 0);
  const { ratios = [0.8, 0.1, 0.1], seed = 2020 } = parseOptions(splitUsersSchema, options, 'splitUsers', 'invalid_argument');
  const sum = ratios[0] + ratios[1] + ratios[2];
  if (Math.abs(sum - 1) > 1e-6) {
    throw new SeqrecError('invalid_argument', `split ratios must sum to 1, got ${ratios.join(' + ')} = ${sum}`, { field: 'ratios' });
  }

  const order = new Random(seed).shuffle(Int32Array.from({ length: numUsers }, (_, i) => i));
  // EPS keeps e.g. (0.7 + 0.2) * 10 = 8.999999999999998 cutting at 9.
  const cut1 = Math.min(numUsers, Math.floor(ratios[0] * numUsers + EPS));
  const cut2 = Math.min(numUsers, Math.floor((ratios[0] + ratios[1]) * numUsers + EPS));
  const sorted = (a: Int32Array): Int32Array => a.sort();
  return {
    train: sorted(order.slice(0, cut1)),
    valid: sorted(order.slice(cut1, cut2)),
    test: sorted(order.slice(cut2)),
  };
}

/**
 * ComiRec's evaluation cut: the first `historyCut(len)` items are the input, the rest are
 * the targets. floor(length·ratio) as in ComiRec's `int(len * 0.8)`, clamped to
 * [1, length-1] so both parts are non-empty. Needs length >= 2.
 */
export function historyCut(length: number, ratio = 0.8): number {
  assertInteger(length, 'length', 2);
  if (!(ratio > 0 && ratio < 1)) {
    throw new SeqrecError('invalid_argument', `evalRatio must be in (0, 1), got ${ratio}`, { field: 'evalRatio' });
  }
  return Math.min(length - 1, Math.max(1, Math.floor(length * ratio)));
}

/** Target positions of leave-one-out evaluation. */
export interface LeaveOneOutPositions {
  /** Training targets are positions 1..trainEnd-1 (none when trainEnd <= 1). */
  trainEnd: number;
  /** Validation target: the second to last item. */
  valid: number;
  /** Test target: the last item. */
  test: number;
}

/** Leave-one-out positions for a sequence of `length` >= 3 items. */
export function leaveOneOut(length: number): LeaveOneOutPositions {
  assertInteger(length, 'length', 3);
  return { trainEnd: length - 2, valid: length - 2, test: length - 1 };
}
