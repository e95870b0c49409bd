/**
 * Flags several commands share (data loading and splitting, training, losses, the backend),
 * each defined once here so `train`, `eval`, `bench` and `export` describe and validate them
 * the same way.
 */
import { BACKEND_NAMES } from '../backend/index.js';
import { DATA_FORMATS } from '../data/formats/index.js';
import { DATA_ENGINES } from '../data/load-dataset.js';
import { LOSS_NAMES, lossFromSettings, SAMPLER_NAMES, type LossFunction, type LossName } from '../losses/index.js';
import { MAX_EMBEDDING_DIM } from '../models/size.js';
import { bool, choice, int, num, str, type FlagValues } from './flags.js';

/** `--format` choices: the data layer's table plus detection from the file. */
export const FORMAT_CHOICES = ['auto', ...DATA_FORMATS] as const;

export const BACKEND_FLAGS = {
  backend: choice(BACKEND_NAMES, 'TF.js backend to force, also SEQREC_BACKEND (default: the first of these that loads)', { placeholder: 'name' }),
} as const;

/** Reading the interaction log and splitting it (after `--data`). */
const DATA_SETTINGS_FLAGS = {
  format: choice(FORMAT_CHOICES, 'file format', { default: 'auto', placeholder: 'format' }),
  delimiter: str('field delimiter of csv/tsv files (default: inferred from the header)', { placeholder: 'char' }),
  skipMalformed: bool('skip malformed lines instead of failing (they are counted and reported)'),
  engine: choice(
    DATA_ENGINES,
    'where the log is grouped, k-core filtered and time-ordered: memory, or duckdb for logs too large for the heap (needs @duckdb/node-api; the same dataset)',
    {
      default: 'memory',
      placeholder: 'name',
    },
  ),
  minCount: int('k-core threshold: drop items and users with fewer interactions', { min: 0, default: 5 }),
  kCore: choice(
    ['iterative', 'one-pass'] as const,
    "k-core filter: iterate until both thresholds hold, or drop rare items then short users once (ComiRec's preprocessing)",
    { default: 'iterative', placeholder: 'mode' },
  ),
  protocol: choice(['comirec', 'loo'] as const, 'split protocol: held-out users (comirec) or leave-one-out', { default: 'comirec', placeholder: 'name' }),
  maxLen: int('history window length', { min: 1, default: 20 }),
  samplesPerUser: int('training samples per user per epoch', { min: 1, default: 1 }),
  seed: int('random seed (sampling, initialisation)', { min: 0, default: 42 }),
  splitSeed: int('seed of the user split', { min: 0, default: 2020 }),
} as const;

/** The data flags with `--data` required (train, ...). */
export const DATA_FLAGS = {
  data: str('interaction log to read', { required: true, placeholder: 'file' }),
  ...DATA_SETTINGS_FLAGS,
} as const;

/** The data flags where `--data` may be left out (eval and export: the model records it). */
export const OPTIONAL_DATA_FLAGS = {
  data: str('interaction log to read (default: the file recorded in the model)', { placeholder: 'file' }),
  ...DATA_SETTINGS_FLAGS,
} as const;

export const SIMILARITY_FLAG = {
  similarity: choice(['ip', 'cosine'] as const, 'user-item score', { default: 'ip', placeholder: 'metric' }),
} as const;

/** Where `train` and `bench` write their experiment records (src/cli/run-records.ts). */
export const RUNS_FLAG = {
  runsDir: str("directory for this run's experiment record, read by `seqrec runs` ('none': write none)", { default: 'seqrec-runs', placeholder: 'dir' }),
} as const;

const EXCLUDE_CHOICES = ['none', 'window', 'history'] as const;
const EXCLUDE_HELP =
  "items left out of valid/test rankings: none (ComiRec's protocol), window (the input window), history (every earlier item of the user: SASRec's and gSASRec's leave-one-out)";

/** Which items valid and test rankings leave out (`train`). */
export const EXCLUDE_FLAG = { exclude: choice(EXCLUDE_CHOICES, EXCLUDE_HELP, { default: 'none', placeholder: 'which' }) } as const;

/** The same for `eval`, without a default: unset, it takes what `train` recorded in the bundle. */
export const EVAL_EXCLUDE_FLAG = {
  exclude: choice(EXCLUDE_CHOICES, `${EXCLUDE_HELP} (default: the training run's, else none)`, { placeholder: 'which' }),
} as const;

/** The valid metrics `--monitor` offers (HR equals recall under leave-one-out's one target). */
export const MONITOR_KEYS = ['recall@10', 'recall@20', 'recall@50', 'ndcg@10', 'ndcg@20', 'ndcg@50'] as const;
export type MonitorKey = (typeof MONITOR_KEYS)[number];

/** Defaults the help states but the parse leaves open (a preset or the mode decides). */
export const DEFAULT_DIM = 64;

/** Model size and optimisation flags of the window trainer (`train`, `bench`). */
export const TRAINING_FLAGS = {
  dim: int(`embedding dimension, at most ${MAX_EMBEDDING_DIM} (default: 64; with --preset: its layer size)`, { min: 1, max: MAX_EMBEDDING_DIM }),
  batch: int('batch size (default: 256; session-parallel: 128)', { min: 1 }),
  lr: num('learning rate (default: 0.001)'),
  epochs: int('maximum epochs (default: 30; session-parallel: 10)', { min: 1 }),
  patience: int('early stopping: epochs without a better valid --monitor metric', { min: 1, default: 5 }),
  monitor: choice(MONITOR_KEYS, 'the valid metric early stopping maximises and the best epoch is chosen by', { default: 'recall@50', placeholder: 'metric' }),
} as const;

/** Cutoffs the valid split is evaluated at while training: the defaults plus the monitor's. */
export function validCutoffs(monitor: MonitorKey): number[] {
  const n = Number(monitor.split('@')[1]);
  return [...new Set([n, 20, 50])].sort((a, b) => a - b);
}

/** `--loss NAME [--negatives N] [--sampler S] [--alpha A]`. */
export const LOSS_FLAGS = {
  loss: choice(LOSS_NAMES, 'training loss (default: softmax; session-parallel: bpr-max)', { placeholder: 'name' }),
  negatives: int('shared negatives per batch (comirec-sampled: per row)', { min: 0 }),
  sampler: choice(SAMPLER_NAMES, "negative sampler (in-batch: the other rows' targets plus N popularity^A samples, GRU4Rec's scheme)", { placeholder: 'name' }),
  alpha: num('popularity exponent of the sampler (default: 0.75)'),
  sharing: choice(['row', 'sequence', 'batch'] as const, 'who shares a draw of negatives (bce: row, gbce: sequence, sampled-softmax: batch by default)', {
    placeholder: 'who',
  }),
} as const;

/** The loss of the loss flags: the name alone when no setting is given. */
export function lossOf(values: FlagValues<typeof LOSS_FLAGS>, fallback: LossName): LossName | LossFunction {
  const name = values.loss ?? fallback;
  const { negatives, sampler, alpha, sharing } = values;
  if (negatives === undefined && sampler === undefined && alpha === undefined && sharing === undefined) return name;
  return lossFromSettings(name, { negatives, sampler, alpha, sharing });
}
