/**
 * The Trainer's and `trainSessionParallel`'s options: strict zod schemas (an unknown option is
 * an `invalid_config` error with a did-you-mean hint) with the TypeScript types inferred from
 * them. Defaults are applied where each mode runs (src/train/trainer.ts): the two modes default
 * differently (loss, batch size, epochs, learning rate).
 */
import type { MetricKey } from '../metrics/index.js';
import { z } from 'zod';
import type { LossFunction } from '../losses/types.js';
import type { LossName } from '../losses/index.js';
import { parseWith } from '../util/schema.js';
import type { EvaluationOptions } from './evaluate.js';
import type { EpochRecord, SessionEpochRecord, SessionEvaluation } from './records.js';

const got = (issue: { input?: unknown }) => `got ${typeof issue.input === 'string' ? `'${issue.input}'` : String(issue.input)}`;

function intAtLeast(min: number) {
  const error = (issue: { input?: unknown }) => `must be an integer >= ${min}, ${got(issue)}`;
  return z.number({ error }).int({ error }).min(min, { error });
}

/** A learning rate must be a finite number > 0: Infinity turns every weight into NaN at the first step. */
const learningRate = z.number({ error: (i) => `must be a finite number > 0, ${got(i)}` }).positive({ error: (i) => `must be a finite number > 0, ${got(i)}` });

function fn<T>(what = 'a function') {
  return z.custom<T>((v) => typeof v === 'function', { error: `must be ${what}` });
}

function objectOf<T>(what: string) {
  return z.custom<T>((v) => typeof v === 'object' && v !== null, { error: `must be ${what}` });
}

const parallelismError = (issue: { input?: unknown }) => `must be 'auto' or an integer >= 1, ${got(issue)}`;

const loss = z.custom<LossName | LossFunction>((v) => typeof v === 'string' || typeof v === 'function', { error: 'must be a loss name or a loss function' });
const itemPopularity = z.custom<ArrayLike<number>>((v) => typeof v === 'object' && v !== null && typeof (v as { length?: unknown }).length === 'number', {
  error: 'must be an array of counts by item id',
});
const log = fn<(line: string) => void>();
const optimizer = z.enum(['adam', 'adagrad'], { error: (i) => `must be 'adam' or 'adagrad', ${got(i)}` });
const momentum = z
  .number({ error: (i) => `must be in [0, 1), ${got(i)}` })
  .min(0, { error: (i) => `must be in [0, 1), ${got(i)}` })
  .lt(1, { error: (i) => `must be in [0, 1), ${got(i)}` });

const sessionEvaluation = z.strictObject({
  sessions: objectOf<SessionEvaluation['sessions']>('a SessionSet'),
  cutoffs: z.array(intAtLeast(1)).optional(),
  batchSize: intAtLeast(1).optional(),
  ties: z.enum(['standard', 'conservative', 'median'], { error: (i) => `must be 'standard', 'conservative' or 'median', ${got(i)}` }).optional(),
});

const secondsError = (i: { input?: unknown }) => `must be a positive number of seconds, ${got(i)}`;

/** When training stops besides its epochs (both trainers; see src/train/loop.ts). */
const stopOptions = {
  /** Time budget: stop after the epoch that ends past this many seconds (best weights kept). Default: none. */
  maxSeconds: z.number({ error: secondsError }).positive({ error: secondsError }).optional(),
  /** Stop when this aborts (e.g. on SIGINT): an epoch under way is dropped, the best weights kept. */
  signal: z.instanceof(AbortSignal, { error: 'must be an AbortSignal' }).optional(),
};

export const trainerOptionsSchema = z.strictObject({
  /** Learning rate. Default 1e-3 (Adam); 0.05 for fitSessions with Adagrad. */
  learningRate: learningRate.optional(),
  /** Training batch size (lanes in session-parallel training). Default 256; 128 for fitSessions. */
  batchSize: intAtLeast(1).optional(),
  /** Maximum epochs. Default 30; 10 for fitSessions (the official GRU4Rec default). */
  epochs: intAtLeast(1).optional(),
  /** Loss by name or function. Default 'softmax'; 'bpr-max' for fitSessions. */
  loss: loss.optional(),
  /** Counts the samplers use; default the training data's counts. */
  itemPopularity: itemPopularity.optional(),
  /** Stop an epoch after this many steps (benchmarks, smoke tests). Default: no limit. */
  maxStepsPerEpoch: intAtLeast(0).optional(),
  /** Progress lines; default: none. Pass `console.error` or a logger. */
  log: log.optional(),
  ...stopOptions,
  /** Callbacks of `fit` (fitSessions takes its own). */
  callbacks: z
    .strictObject({
      onEpochEnd: fn<(record: EpochRecord) => void | Promise<void>>().optional(),
      onBatchEnd: fn<(step: number, loss: number, rows?: number) => void>().optional(),
    })
    .optional(),
  // --- windowed training (fit) only ---
  /**
   * Warm start: a saved model (bundle or checkpoint directory) whose weights the fit starts
   * from. The model must have the parent's config with only `itemCount` grown, and the dataset
   * the parent's vocabulary as its prefix (`dataset.withVocabulary`). See src/train/warm-start.ts.
   */
  from: z.string({ error: 'must be a model directory' }).optional(),
  /** Rows of items new since the parent: 'init' (default, the model's init) or 'cooccurrence'. */
  newRows: z.enum(['init', 'cooccurrence'], { error: (i) => `must be 'init' or 'cooccurrence', ${got(i)}` }).optional(),
  /**
   * Keep Adam's state with the best weights: `FitResult.optimizerState` (for `exportBundle` /
   * `saveModel`'s `optimizerState`) and in every checkpoint, so that a warm start from them
   * continues Adam (`from` restores it). Off by default: it adds about twice the weights'
   * size to a bundle (Adam's two moments per weight) and a copy of it in memory per kept epoch.
   */
  saveOptimizerState: z.boolean({ error: (i) => `must be true or false, ${got(i)}` }).optional(),
  /** Epochs without improvement before stopping. Default 5. */
  patience: intAtLeast(1).optional(),
  /** Metric of the valid split to maximise. Default 'recall@50'. */
  monitor: z.custom<MetricKey>((v) => typeof v === 'string' && /^[A-Za-z]+@\d+$/.test(v), { error: 'must be a metric key such as recall@50' }).optional(),
  /** Evaluation settings (cutoffs, similarity). */
  evaluation: objectOf<EvaluationOptions>('evaluation options').optional(),
  /**
   * Save the best model here (with the dataset's vocabulary) whenever it improves, each time
   * as a new atomic version (src/bundle/atomic-dir.ts; the previous one is kept).
   */
  checkpointDir: z.string({ error: 'must be a directory path' }).optional(),
  /**
   * Split each batch over this many cores (worker threads, see src/train/parallel.ts).
   * 'auto' (default) is 1 = single-threaded: on the 2-core machines seqrec is benchmarked on,
   * 2 parts gave 1.2-1.4x for MIND and YouTubeDNN but made GRU4Rec slower (0.67x; see
   * docs/benchmarks.md), so the gain has to be measured per model and machine. Results are
   * reproducible for a fixed number of parts.
   */
  parallelism: z
    .union([z.literal('auto'), z.number().int({ error: parallelismError }).min(1, { error: parallelismError })], { error: parallelismError })
    .optional(),
  /**
   * How the item table's gradient is kept: 'dense' (one more Adam variable), 'sparse' (only
   * the rows a batch touches, row-wise Adam: step cost independent of the item count) or
   * 'auto' (default: sparse for sampled losses, dense for full softmax). See src/train/step.ts.
   */
  itemGradients: z.enum(['auto', 'dense', 'sparse'], { error: (i) => `must be 'auto', 'dense' or 'sparse', ${got(i)}` }).optional(),
  /**
   * Which positions of a training sequence are targets: 'last' (one target per window, the
   * item after it; any loss) or 'every' (one row per train user, a target at every real
   * position, padding carries no loss; the model's `sequenceLoss`, full softmax). Default: the
   * model's `defaultTargets` ('every' for SASRec, 'last' for the others).
   */
  targets: z.enum(['last', 'every'], { error: (i) => `must be 'last' or 'every', ${got(i)}` }).optional(),
  // --- session-parallel training (fitSessions) only ---
  /**
   * 'adam' (default; dense) or 'adagrad': the official GRU4Rec's update (Adagrad with a zero
   * accumulator, ε = 1e-6 inside the square root, plus `momentum`), with the item table
   * updated row-sparsely as the official IndexedAdagradM does.
   */
  optimizer: optimizer.optional(),
  /** Adagrad momentum. Default 0. */
  momentum: momentum.optional(),
});

export type TrainerOptions = z.infer<typeof trainerOptionsSchema>;

/** Options fit() refuses, and options fitSessions() refuses. */
export const WINDOWED_ONLY = [
  'from',
  'newRows',
  'saveOptimizerState',
  'patience',
  'monitor',
  'evaluation',
  'checkpointDir',
  'parallelism',
  'itemGradients',
  'callbacks',
  'targets',
] as const;
export const SESSION_ONLY = ['optimizer', 'momentum'] as const;

export const sessionTrainOptionsSchema = z.strictObject({
  /** Loss by name or function. Default 'bpr-max' (in-batch + 2,048 popularity^0.5 negatives, bpreg 1). */
  loss: loss.optional(),
  /** Lanes B. Default 128. */
  batchSize: intAtLeast(1).optional(),
  /** Epochs. Default 10 (the official default). */
  epochs: intAtLeast(1).optional(),
  /** Default 1e-3 for Adam, 0.05 for Adagrad. */
  learningRate: learningRate.optional(),
  /**
   * 'adam' (default, as the Trainer; dense) or 'adagrad': the official GRU4Rec's update
   * (Adagrad with a zero accumulator, ε = 1e-6 inside the square root, plus `momentum`), with
   * the item table updated row-sparsely as the official IndexedAdagradM does (the rows the
   * batch looked up, i.e. the sparse gradient's indices; other rows keep their value,
   * accumulator and momentum).
   */
  optimizer: optimizer.optional(),
  /** Adagrad momentum. Default 0. */
  momentum: momentum.optional(),
  /** Counts the samplers use; default the training sessions' event counts (the official P0). */
  itemPopularity: itemPopularity.optional(),
  /** Evaluate on these sessions after every epoch. */
  evaluation: sessionEvaluation.optional(),
  log: log.optional(),
  /** After every step: the step number, its loss and its rows (the Trainer's `onBatchEnd`). */
  onStep: fn<(step: number, loss: number, rows: number) => void>().optional(),
  onEpochEnd: fn<(record: SessionEpochRecord) => void | Promise<void>>().optional(),
  /** Stop after this many steps per epoch (benchmarks, smoke tests). Default: no limit. */
  maxStepsPerEpoch: intAtLeast(0).optional(),
  ...stopOptions,
});

export type SessionTrainOptions = z.infer<typeof sessionTrainOptionsSchema>;

export const sessionFitOptionsSchema = z.strictObject({
  /** Evaluate on these sessions after every epoch. */
  evaluation: sessionEvaluation.optional(),
  callbacks: z
    .strictObject({
      onEpochEnd: fn<(record: SessionEpochRecord) => void | Promise<void>>().optional(),
      onBatchEnd: fn<(step: number, loss: number, rows: number) => void>().optional(),
    })
    .optional(),
});

export type SessionFitOptions = z.infer<typeof sessionFitOptionsSchema>;

const isPlain = (v: unknown): boolean => typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/**
 * Options with a `callbacks` object: a plain one is checked strictly (a typo'd callback name is
 * an error); an instance of a class is taken as it is (its fields are not callbacks). Either
 * way the caller's object is kept, so callback methods that use `this` keep working.
 */
function withCallbacks<S extends z.ZodType>(schema: S, options: unknown, where: string): z.output<S> {
  const given = (options ?? {}) as { callbacks?: Record<string, unknown> };
  const c = given.callbacks;
  const checked = c === undefined || isPlain(c) ? given : { ...given, callbacks: { onEpochEnd: c.onEpochEnd, onBatchEnd: c.onBatchEnd } };
  const parsed = parseWith(schema, checked, { where }) as z.output<S> & { callbacks?: unknown };
  return c === undefined ? parsed : { ...parsed, callbacks: c };
}

export function parseTrainerOptions(options: unknown): TrainerOptions {
  return withCallbacks(trainerOptionsSchema, options, 'Trainer');
}

export function parseSessionTrainOptions(options: unknown): SessionTrainOptions {
  return parseWith(sessionTrainOptionsSchema, options ?? {}, { where: 'trainSessionParallel' });
}

export function parseSessionFitOptions(options: unknown): SessionFitOptions {
  return withCallbacks(sessionFitOptionsSchema, options, 'Trainer.fitSessions');
}
