/**
 * Options of `SequenceDataset`, their defaults and validation.
 */
import { z } from 'zod';
import { count, finite, integer, oneOf, parseOptions, shown } from './rules.js';

export interface SequenceDatasetOptions {
  /** `'comirec'` (default): users split into train/valid/test. `'loo'`: leave-one-out per user. */
  protocol?: 'comirec' | 'loo';
  /** Train/valid/test user fractions (comirec only). Default [0.8, 0.1, 0.1]. */
  splitRatios?: [number, number, number];
  /** Seed of the user split. Default 2020. */
  splitSeed?: number;
  /** Seed of training-sample draws and epoch orders. Default 42. */
  seed?: number;
  /** History window length. Default 20. */
  maxLen?: number;
  /**
   * ComiRec draws the target position k uniformly from [minPrefix, len-1], or from
   * [1, len-1] when len <= minPrefix. Default 4. Used by comirec 'random' sampling only.
   */
  minPrefix?: number;
  /** Random targets drawn per train user per epoch ('random' sampling). Default 1. */
  samplesPerUser?: number;
  /**
   * `'random'`: samplesPerUser random targets per train user per epoch (default for comirec).
   * `'every'`: every training target position once per epoch (default for loo).
   */
  sampling?: 'random' | 'every';
  /** Fraction of an evaluated sequence used as history (comirec). Default 0.8. */
  evalRatio?: number;
  /** Item index order when the vocabulary is built from a log. Default 'frequency'. */
  vocabularyOrder?: 'frequency' | 'firstSeen';
  /**
   * An explicit comirec user split (user indices), e.g. the PyTorch peer's export, instead of
   * the seeded `splitRatios` split. Lists must be disjoint and within range.
   */
  userSplit?: { train: ArrayLike<number>; valid: ArrayLike<number>; test: ArrayLike<number> };
}

export interface ResolvedSequenceDatasetOptions {
  readonly protocol: 'comirec' | 'loo';
  readonly splitRatios: readonly [number, number, number];
  readonly splitSeed: number;
  readonly userSplit?: { readonly train: Int32Array; readonly valid: Int32Array; readonly test: Int32Array };
  readonly seed: number;
  readonly maxLen: number;
  readonly minPrefix: number;
  readonly samplesPerUser: number;
  readonly sampling: 'random' | 'every';
  readonly evalRatio: number;
  readonly vocabularyOrder: 'frequency' | 'firstSeen';
}

/**
 * The longest history window seqrec accepts: far above any published protocol (SASRec uses 200
 * on ML-1M), low enough that a typo such as `maxLen: 1e9` is an error instead of a batch of
 * batchSize x maxLen values that no typed array can hold.
 */
export const MAX_WINDOW_LENGTH = 10_000;

/** The most training samples per user and epoch (the papers draw 1; `--samples-per-user 10` is common). */
export const MAX_SAMPLES_PER_USER = 10_000;

const userList = z.custom<ArrayLike<number>>((v) => Array.isArray(v) || ArrayBuffer.isView(v), {
  error: (iss) => `must be a list of user indices, got ${shown(iss.input)}`,
});

const datasetOptionsSchema = z.strictObject({
  protocol: oneOf(['comirec', 'loo']).optional(),
  splitRatios: z
    .custom<[number, number, number]>((v) => Array.isArray(v) && v.length === 3, {
      error: () => 'must be three numbers [train, valid, test]',
    })
    .optional(),
  splitSeed: finite.optional(),
  seed: finite.optional(),
  maxLen: integer(1, MAX_WINDOW_LENGTH).optional(),
  minPrefix: count.optional(),
  samplesPerUser: integer(1, MAX_SAMPLES_PER_USER).optional(),
  sampling: oneOf(['random', 'every']).optional(),
  // Open at both ends: a cut needs history and targets.
  evalRatio: finite.refine((r) => r > 0 && r < 1, { error: (iss) => `must be strictly between 0 and 1, got ${shown(iss.input)}` }).optional(),
  vocabularyOrder: oneOf(['frequency', 'firstSeen']).optional(),
  userSplit: z.strictObject({ train: userList, valid: userList, test: userList }).optional(),
});

/** Fills in defaults and checks every option (an unknown key is an error); the result is frozen. */
export function resolveDatasetOptions(options: SequenceDatasetOptions = {}): ResolvedSequenceDatasetOptions {
  const o = parseOptions(datasetOptionsSchema, options, 'SequenceDataset', 'invalid_config');
  const protocol = o.protocol ?? 'comirec';
  const ratios = o.splitRatios ?? [0.8, 0.1, 0.1];
  return Object.freeze({
    protocol,
    splitRatios: Object.freeze([ratios[0], ratios[1], ratios[2]] as const),
    splitSeed: o.splitSeed ?? 2020,
    ...(o.userSplit
      ? {
          userSplit: Object.freeze({
            train: Int32Array.from(o.userSplit.train).sort(),
            valid: Int32Array.from(o.userSplit.valid).sort(),
            test: Int32Array.from(o.userSplit.test).sort(),
          }),
        }
      : {}),
    seed: o.seed ?? 42,
    maxLen: o.maxLen ?? 20,
    minPrefix: o.minPrefix ?? 4,
    samplesPerUser: o.samplesPerUser ?? 1,
    sampling: o.sampling ?? (protocol === 'loo' ? 'every' : 'random'),
    evalRatio: o.evalRatio ?? 0.8,
    vocabularyOrder: o.vocabularyOrder ?? 'frequency',
  });
}
