/** The flags of `seqrec train` and the checks both training modes run before reading data. */
import { assertWritableModelDir } from '../../bundle/atomic-dir.js';
import { SeqrecError } from '../../errors.js';
import { MODELS, type ModelName } from '../../models/registry.js';
import { assertModelFits } from '../../models/size.js';
import { bool, choice, int, num, str, type FlagValues } from '../flags.js';
import { GRU4REC_PRESET_NAMES } from '../presets.js';
import { BACKEND_FLAGS, DATA_FLAGS, LOSS_FLAGS, SIMILARITY_FLAG, TRAINING_FLAGS } from '../shared-flags.js';

export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export const TRAIN_FLAGS = {
  ...DATA_FLAGS,
  model: choice(MODEL_NAMES, 'model', { default: 'gru4rec', placeholder: 'name' }),
  interests: int("interests K of the multi-interest models (default: the model's)", { min: 1 }),
  ...TRAINING_FLAGS,
  ...LOSS_FLAGS,
  itemGradients: choice(['auto', 'dense', 'sparse'] as const, 'item-table updates: sparse = only the rows a batch touches (row-wise Adam; the auto choice for sampled losses)', { default: 'auto', placeholder: 'mode' }),
  ...SIMILARITY_FLAG,
  out: str('write a serving bundle (and history.json) to this directory', { placeholder: 'dir' }),
  force: bool('--out: replace the model in DIR (it becomes a new version; the previous one is kept)'),
  json: str('append a JSON line with the run to this file', { placeholder: 'file' }),
  mode: choice(['window', 'session-parallel'] as const, "training mode (default: window; session-parallel with --preset): session-parallel is GRU4Rec's own, on 'session_id item item ...' files", { placeholder: 'mode' }),
  test: str('session-parallel: test sessions file', { placeholder: 'file' }),
  optimizer: choice(['adam', 'adagrad'] as const, 'session-parallel optimizer (default: adam; adagrad with --preset)', { placeholder: 'name' }),
  momentum: num('session-parallel: adagrad momentum (default: 0)'),
  preset: choice(GRU4REC_PRESET_NAMES, "session-parallel: the official GRU4Rec repository's tuned settings for that dataset; given flags override", { placeholder: 'name' }),
  ...BACKEND_FLAGS,
} as const;

export type TrainValues = FlagValues<typeof TRAIN_FLAGS>;

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
