/** The flags of `seqrec train` and the checks both training modes run before reading data. */
import { assertWritableModelDir } from '../../bundle/atomic-dir.js';
import { SeqrecError } from '../../errors.js';
import { MODELS, type ModelName } from '../../models/registry.js';
import { assertModelFits } from '../../models/size.js';
import { z } from 'zod';
import { MAX_SAMPLES_PER_USER } from '../../data/dataset-options.js';
import { bool, choice, int, num, str, type Flag, type FlagValues } from '../flags.js';
import { GRU4REC_PRESET_NAMES } from '../presets.js';
import { BACKEND_FLAGS, DATA_FLAGS, EXCLUDE_FLAG, LOSS_FLAGS, RUNS_FLAG, SIMILARITY_FLAG, TRAINING_FLAGS } from '../shared-flags.js';

export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];
/** `--model` of `seqrec train`: the embedding models and the neighbourhood models (fitted, no epochs). */
export const TRAIN_MODEL_NAMES = [...MODEL_NAMES, 'itemknn', 'sknn'] as const;

/** `--preset` choices: the ComiRec recipe (window mode), then the session-parallel GRU4Rec presets. */
export const TRAIN_PRESET_NAMES = ['comirec', ...GRU4REC_PRESET_NAMES] as const;

/**
 * `seqrec train`'s default epoch: `--samples-per-user auto` draws enough random targets per
 * train user that an epoch is at least AUTO_MIN_STEPS Adam steps, at most AUTO_MAX_SAMPLES_PER_USER
 * per user. ComiRec's one sample per user is 19 steps an epoch on ml-1m (4,832 train users), and
 * early stopping then fires on the popularity plateau (test recall@50 0.1095 vs MostPopular
 * 0.1068). The rule gives ml-1m 10 per user (189 steps) and amazon-beauty 3 (210 steps): test
 * recall@50 2.57x and 1.81x MostPopular's (docs/getting-started.md, "First run on real data");
 * a large log (51,200+ train users at batch 256) keeps 1. The cap (the PyTorch peer's measured
 * ml-1m setting) bounds the epoch of a tiny log. Patience stays 5: with 200-step epochs valid
 * recall rises past the popularity plateau within the first epochs. `bench` and
 * `--preset comirec` keep 1 sample per user.
 */
export const AUTO_MIN_STEPS = 200;
export const AUTO_MAX_SAMPLES_PER_USER = 10;

/** The samples per train user per epoch `--samples-per-user auto` picks. */
export function autoSamplesPerUser(trainUsers: number, batchSize: number): number {
  if (trainUsers <= 0) return 1;
  return Math.min(AUTO_MAX_SAMPLES_PER_USER, Math.max(1, Math.ceil((AUTO_MIN_STEPS * batchSize) / trainUsers)));
}

/** `--samples-per-user N|auto`: absent = undefined (auto, or 1 with --preset comirec). */
function samplesPerUserFlag(): Flag<number | 'auto' | undefined> {
  const schema = z
    .string()
    .optional()
    .transform((v, ctx): number | 'auto' | undefined => {
      if (v === undefined || v === 'auto') return v;
      const n = Number(v);
      if (v.trim() !== '' && Number.isInteger(n) && n >= 1 && n <= MAX_SAMPLES_PER_USER) return n;
      ctx.addIssue({ code: 'custom', message: `must be auto or an integer >= 1 and <= ${MAX_SAMPLES_PER_USER}, got '${v}'` });
      return z.NEVER;
    });
  return {
    kind: 'value',
    placeholder: 'n|auto',
    description: `training samples per train user per epoch; auto = enough for ${AUTO_MIN_STEPS} Adam steps an epoch, at most ${AUTO_MAX_SAMPLES_PER_USER} (default: auto; with --preset comirec: 1)`,
    schema,
  };
}

export const TRAIN_FLAGS = {
  ...DATA_FLAGS,
  samplesPerUser: samplesPerUserFlag(),
  model: choice(TRAIN_MODEL_NAMES, 'model (itemknn, sknn: neighbourhood models, fitted without epochs)', { default: 'gru4rec', placeholder: 'name' }),
  interests: int("interests K of the multi-interest models (default: the model's)", { min: 1 }),
  blocks: int('sasrec: self-attention blocks (default: 2)', { min: 1, max: 64 }),
  heads: int('sasrec: attention heads, must divide --dim (default: 1)', { min: 1 }),
  dropout: num('sasrec: dropout on the embeddings, attention weights and feed-forward layers, in [0, 1) (default: 0.2)'),
  targets: choice(
    ['last', 'every'] as const,
    'training targets: last = one per window (any --loss), every = one sequence per train user with a target at every position (any --loss; the default for sasrec)',
    { placeholder: 'which' },
  ),
  ...EXCLUDE_FLAG,
  ...TRAINING_FLAGS,
  maxMinutes: num('time budget: stop after the epoch that ends past this many minutes and evaluate the best one (Ctrl-C also stops cleanly)', {
    min: 0.01,
    placeholder: 'x',
  }),
  ...LOSS_FLAGS,
  itemGradients: choice(
    ['auto', 'dense', 'sparse'] as const,
    'item-table updates: sparse = only the rows a batch touches (row-wise Adam; the auto choice for sampled losses)',
    { default: 'auto', placeholder: 'mode' },
  ),
  ...SIMILARITY_FLAG,
  from: str("warm start: continue from this bundle's weights on --data (old item ids keep their rows; pass the parent's model and data flags)", {
    placeholder: 'dir',
  }),
  newRows: choice(['init', 'cooccurrence'] as const, "--from: rows of new items start at the model's init or at the mean of co-occurring old items", {
    default: 'init',
    placeholder: 'rule',
  }),
  saveOptimizer: bool("--out: save Adam's state with the weights (about twice the weights' size), so a later --from continues it (window mode)"),
  itemFeatures: str(
    "GRU4Rec/SASRec: item features as a second input, from a JSON object {item: [feature, ...]} or MovieLens-1M's movies.dat genres (docs/models/features.md)",
    { placeholder: 'file' },
  ),
  featureStrategy: choice(['simultaneous', 'interleaving'] as const, '--item-features: train the id and feature parts together, or on alternating batches', {
    default: 'simultaneous',
    placeholder: 'name',
  }),
  featureArchitecture: choice(
    ['shared', 'parallel'] as const,
    '--item-features, gru4rec: one GRU over id + feature vectors (shared), or an id GRU and a feature GRU side by side (parallel, p-RNN)',
    { placeholder: 'name' },
  ),
  out: str('write a serving bundle (and history.json) to this directory', { placeholder: 'dir' }),
  force: bool('--out: replace the model in DIR (it becomes a new version; the previous one is kept)'),
  coldStart: choice(
    ['on', 'off'] as const,
    '--out: store the cold-start tables (recent popularity; the co-occurrence table, an ItemKNN fit over the whole log whose time grows with the sum of squared sequence lengths)',
    { default: 'on', placeholder: 'on|off' },
  ),
  json: str('append a JSON line with the run to this file', { placeholder: 'file' }),
  ...RUNS_FLAG,
  mode: choice(
    ['window', 'session-parallel'] as const,
    "training mode (default: window; session-parallel with --preset): session-parallel is GRU4Rec's own, on 'session_id item item ...' files",
    { placeholder: 'mode' },
  ),
  test: str('session-parallel: test sessions file', { placeholder: 'file' }),
  optimizer: choice(['adam', 'adagrad'] as const, 'session-parallel optimizer (default: adam; adagrad with --preset)', { placeholder: 'name' }),
  momentum: num('session-parallel: adagrad momentum (default: 0)'),
  preset: choice(
    TRAIN_PRESET_NAMES,
    "comirec: ComiRec's recipe for reproduction (1 sample per train user per epoch, patience 5); gru4rec-official-*: session-parallel, the official GRU4Rec repository's tuned settings for that dataset; given flags override",
    { placeholder: 'name' },
  ),
  ...BACKEND_FLAGS,
} as const;

export type TrainValues = FlagValues<typeof TRAIN_FLAGS>;

/** The window trainer's samples per user and patience from the flags: given flags, else the preset's, else the defaults. */
export function windowDefaults(values: Pick<TrainValues, 'samplesPerUser' | 'patience' | 'preset'>): { samplesPerUser: number | 'auto'; patience: number } {
  const comirec = values.preset === 'comirec';
  return { samplesPerUser: values.samplesPerUser ?? (comirec ? 1 : 'auto'), patience: values.patience };
}

/**
 * `--out DIR`, checked before any data is read or any epoch runs: a non-empty directory that
 * holds no seqrec model is refused, and one that holds a model needs --force (the new model
 * then becomes a new version; the previous one is kept next to it).
 */
export async function checkOut(values: { out?: string; force: boolean }): Promise<void> {
  if (values.out) await assertWritableModelDir(values.out, { replace: values.force ? 'allow' : 'refuse' });
}

/** `--dim`, checked before any data is read: a model of that width must fit in memory even with the fewest items. */
export function checkDim(dim: number): number {
  withDimFlag(dim, () => assertModelFits({ itemCount: 2, embeddingDim: dim, maxLen: 1 }, `--dim ${dim}`));
  return dim;
}

/** Builds a model; a size error from it names the flags that set the size. */
export function withDimFlag<T>(dim: number, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof SeqrecError) || e.code !== 'invalid_config' || !['embeddingDim', 'hiddenDim', 'itemCount'].includes(e.field ?? '')) throw e;
    const field = e.field === 'itemCount' ? 'min-count' : 'dim';
    throw new SeqrecError('invalid_config', `${e.message} (--dim ${dim} sets embeddingDim; a higher --min-count keeps fewer items)`, { field });
  }
}
