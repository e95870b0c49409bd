/**
 * Options of `SequenceDataset`, their defaults and validation.
 */
import { SeqrecError, assertInRange, assertInteger } from '../errors.js';

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

function oneOf<T extends string>(value: T | undefined, allowed: readonly T[], name: string, fallback: T): T {
  const v = value ?? fallback;
  if (!allowed.includes(v)) {
    throw new SeqrecError('invalid_config', `${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${String(v)}'`, {
      field: name,
    });
  }
  return v;
}

function finite(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SeqrecError('invalid_config', `${name} must be a finite number, got ${String(value)}`, { field: name });
  }
  return value;
}

/**
 * The longest history window seqrec accepts: far above any published protocol (SASRec uses 200
 * on ML-1M), low enough that a typo such as `maxLen: 1e9` is an error instead of a batch of
 * batchSize x maxLen values that no typed array can hold.
 */
export const MAX_WINDOW_LENGTH = 10_000;

/** The most training samples per user and epoch (the papers draw 1; `--samples-per-user 10` is common). */
export const MAX_SAMPLES_PER_USER = 10_000;

/** Fills in defaults and checks every option; the result is frozen. */
export function resolveDatasetOptions(options: SequenceDatasetOptions = {}): ResolvedSequenceDatasetOptions {
  const protocol = oneOf(options.protocol, ['comirec', 'loo'], 'protocol', 'comirec');
  const sampling = oneOf(options.sampling, ['random', 'every'], 'sampling', protocol === 'loo' ? 'every' : 'random');
  const vocabularyOrder = oneOf(options.vocabularyOrder, ['frequency', 'firstSeen'], 'vocabularyOrder', 'frequency');
  const { maxLen = 20, minPrefix = 4, samplesPerUser = 1, evalRatio = 0.8 } = options;
  assertInteger(maxLen, 'maxLen', 1);
  if (maxLen > MAX_WINDOW_LENGTH) {
    throw new SeqrecError('invalid_argument', `maxLen must be at most ${MAX_WINDOW_LENGTH}, got ${maxLen}`, { field: 'maxLen' });
  }
  assertInteger(minPrefix, 'minPrefix', 1);
  assertInteger(samplesPerUser, 'samplesPerUser', 1);
  if (samplesPerUser > MAX_SAMPLES_PER_USER) {
    throw new SeqrecError('invalid_argument', `samplesPerUser must be at most ${MAX_SAMPLES_PER_USER}, got ${samplesPerUser}`, { field: 'samplesPerUser' });
  }
  assertInRange(evalRatio, 'evalRatio', 0, 1);
  if (evalRatio === 0 || evalRatio === 1) {
    throw new SeqrecError('invalid_config', `evalRatio must be strictly between 0 and 1, got ${evalRatio}`, { field: 'evalRatio' });
  }
  const ratios = options.splitRatios ?? [0.8, 0.1, 0.1];
  if (!Array.isArray(ratios) || ratios.length !== 3) {
    throw new SeqrecError('invalid_config', 'splitRatios must be three numbers [train, valid, test]', { field: 'splitRatios' });
  }
  return Object.freeze({
    protocol,
    splitRatios: Object.freeze([ratios[0], ratios[1], ratios[2]] as const),
    splitSeed: finite(options.splitSeed ?? 2020, 'splitSeed'),
    ...(options.userSplit
      ? {
          userSplit: Object.freeze({
            train: Int32Array.from(options.userSplit.train).sort(),
            valid: Int32Array.from(options.userSplit.valid).sort(),
            test: Int32Array.from(options.userSplit.test).sort(),
          }),
        }
      : {}),
    seed: finite(options.seed ?? 42, 'seed'),
    maxLen,
    minPrefix,
    samplesPerUser,
    sampling,
    evalRatio,
    vocabularyOrder,
  });
}
