/**
 * Training losses by name, for configs, the Trainer and the CLI.
 *
 * | name              | what                                                                  | negatives (default)                          |
 * |-------------------|-----------------------------------------------------------------------|----------------------------------------------|
 * | `softmax`         | full softmax cross-entropy over every item                            | all items                                    |
 * | `sampled-softmax` | sampled softmax, logQ-corrected                                       | 1,024 shared, popularity^0.75                |
 * | `in-batch`        | softmax over the other rows' targets, logQ-corrected                  | in-batch (+ optional shared extras)          |
 * | `bpr`, `top1`     | Hidasi et al. 2016                                                    | in-batch + 2,048 shared popularity^0.5       |
 * | `bpr-max`         | Hidasi & Karatzoglou 2018, bpreg 1                                    | in-batch + 2,048 shared popularity^0.5       |
 * | `top1-max`        | Hidasi & Karatzoglou 2018                                             | in-batch + 2,048 shared popularity^0.5       |
 * | `comirec-sampled` | ComiRec's sampled softmax: 10·B shared log-uniform, unique, logQ      | 10 × batch size, log-uniform over ids        |
 * | `bce`             | binary cross-entropy, the original SASRec's                           | 1 per row, uniform                           |
 * | `gbce`            | gSASRec's gBCE, t = 0.75                                              | 256 shared, uniform                          |
 *
 * Accidental hits are removed everywhere. Losses that need item counts (popularity samplers,
 * in-batch logQ) are `ContextualLoss`es: `resolveLoss(loss, { itemCount, itemPopularity })`
 * binds them (the Trainer and `trainSessionParallel` pass `dataset.itemPopularity()`).
 */
import { SeqrecError } from '../errors.js';
import { bce, gbce, type GBCEOptions, type NegativeSharing } from './bce.js';
import { comirecSampledSoftmax } from './comirec.js';
import type { LogQOption, NegativeOptions } from './candidates.js';
import { inBatchSoftmax, DEFAULT_IN_BATCH } from './in-batch.js';
import { bpr, top1, DEFAULT_GRU4REC_NEGATIVES } from './pairwise.js';
import { bprMax, top1Max, DEFAULT_BPR_MAX, DEFAULT_TOP1_MAX, type MaxLossSettings } from './pairwise-max.js';
import { sampledSoftmax, DEFAULT_SAMPLED_SOFTMAX } from './sampled-softmax.js';
import { DEFAULT_SAMPLE_ALPHA, SAMPLER_NAMES } from './samplers.js';
import { softmaxCrossEntropy } from './softmax.js';
import type { ContextualLoss, LossContext, LossFunction } from './types.js';

export type { ContextualLoss, LossContext, LossFunction, LossInput } from './types.js';
export { softmaxCrossEntropy };
export { sampledSoftmax, sampledSoftmaxFromScores, type SampledSoftmaxOptions, type ScoredColumns, type LogQTerms } from './sampled-softmax.js';
export { inBatchSoftmax, type InBatchOptions } from './in-batch.js';
export { bpr, top1, bprFromScores, top1FromScores, type PairwiseOptions } from './pairwise.js';
export { bprMax, top1Max, bprMaxFromScores, top1MaxFromScores, type MaxLossOptions, type MaxLossSettings } from './pairwise-max.js';
export { comirecSampledSoftmax, type ComiRecLossOptions } from './comirec.js';
export { bce, gbce, gbceBeta, binaryLossFromScores, type BinaryLossOptions, type GBCEOptions, type NegativeSharing } from './bce.js';
export { buildCandidates, planNegatives, type Candidates, type NegativeOptions, type NegativePlan, type LogQOption, type LogQForm } from './candidates.js';
export * from './samplers.js';

/** Losses by name, with their default settings. */
export const LOSSES = {
  softmax: softmaxCrossEntropy,
  'sampled-softmax': sampledSoftmax(),
  'in-batch': inBatchSoftmax(),
  bpr: bpr(),
  top1: top1(),
  'bpr-max': bprMax(),
  'top1-max': top1Max(),
  'comirec-sampled': comirecSampledSoftmax(),
  bce: bce(),
  gbce: gbce(),
} as const satisfies Record<string, LossFunction>;

export type LossName = keyof typeof LOSSES;
export const LOSS_NAMES = Object.keys(LOSSES) as LossName[];

/** Every setting a named loss may take (each loss reads the ones that apply to it). */
export type LossOptions = NegativeOptions & LogQOption & MaxLossSettings & Pick<GBCEOptions, 't' | 'sharing'>;

export function isContextualLoss(fn: unknown): fn is ContextualLoss {
  return typeof fn === 'function' && typeof (fn as ContextualLoss).withContext === 'function';
}

function checkName(name: string): asserts name is LossName {
  if (!Object.prototype.hasOwnProperty.call(LOSSES, name)) {
    throw new SeqrecError('invalid_config', `Unknown loss '${name}'. Should be one of: ${LOSS_NAMES.join(', ')}.`, { field: 'loss' });
  }
}

/** A named loss with some settings overridden (the rest keep the defaults in the table above). */
export function createLoss(name: LossName, options: LossOptions = {}): LossFunction {
  checkName(name);
  const { sharing, ...o } = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as LossOptions;
  if (sharing !== undefined && name !== 'bce' && name !== 'gbce' && !(name === 'sampled-softmax' && sharing !== 'row')) {
    const offered = name === 'sampled-softmax' ? "'batch' or 'sequence'" : 'nothing (its negatives are shared by the batch)';
    throw new SeqrecError('invalid_config', `loss '${name}': sharing '${sharing}' is not offered; it takes ${offered}`, { field: 'sharing' });
  }
  switch (name) {
    case 'softmax':
      if (Object.keys(o).length) {
        throw new SeqrecError(
          'invalid_config',
          `loss 'softmax' scores every item and takes no negative settings (${Object.keys(o).join(', ')}); use 'sampled-softmax' or 'in-batch'`,
          { field: 'loss' },
        );
      }
      return softmaxCrossEntropy;
    case 'sampled-softmax':
      return sampledSoftmax({ ...DEFAULT_SAMPLED_SOFTMAX, ...o, ...(sharing ? { sharing: sharing as 'batch' | 'sequence' } : {}) });
    case 'in-batch':
      return inBatchSoftmax({ ...DEFAULT_IN_BATCH, ...o });
    case 'bpr':
      return bpr({ ...DEFAULT_GRU4REC_NEGATIVES, ...o });
    case 'top1':
      return top1({ ...DEFAULT_GRU4REC_NEGATIVES, ...o });
    case 'bpr-max':
      return bprMax({ ...DEFAULT_BPR_MAX, ...o });
    case 'top1-max':
      return top1Max({ ...DEFAULT_TOP1_MAX, ...o });
    case 'comirec-sampled':
      return comirecSampledSoftmax({ negativesPerRow: o.negativesPerRow });
    case 'bce':
      return bce({ numNegatives: o.numNegatives, sharing });
    case 'gbce':
      return gbce({ numNegatives: o.numNegatives, sharing, t: o.t });
  }
}

/**
 * The CLI's view of the settings: `--negatives N --sampler uniform|popularity|log-uniform|in-batch
 * --alpha A --sharing row|sequence|batch`. `in-batch` means the other rows' targets plus N extra popularity^A samples;
 * any other sampler means N shared samples from it and no in-batch negatives (except for the
 * 'in-batch' loss, which always has them). Unset flags keep the loss's defaults.
 */
export function lossFromSettings(
  name: string,
  settings: { negatives?: number; sampler?: string; alpha?: number; sharing?: NegativeSharing } = {},
): LossFunction {
  checkName(name);
  const { negatives, sampler, alpha, sharing } = settings;
  if (negatives === undefined && sampler === undefined && alpha === undefined && sharing === undefined) return LOSSES[name];
  if (sampler !== undefined && !(SAMPLER_NAMES as readonly string[]).includes(sampler)) {
    throw new SeqrecError('invalid_config', `unknown sampler '${sampler}'. Should be one of: ${SAMPLER_NAMES.join(', ')}.`, { field: 'sampler' });
  }
  if ((name === 'bce' || name === 'gbce') && (sampler !== undefined || alpha !== undefined)) {
    throw new SeqrecError('invalid_config', `'${name}' draws its negatives uniformly over the items; only --negatives applies`, { field: 'sampler' });
  }
  if (name === 'bce' || name === 'gbce') return createLoss(name, { numNegatives: negatives, sharing });
  if (name === 'comirec-sampled') {
    if (sampler !== undefined || alpha !== undefined)
      throw new SeqrecError('invalid_config', `'comirec-sampled' always samples log-uniform ids; only --negatives (per row) applies`, { field: 'sampler' });
    return createLoss(name, { negativesPerRow: negatives });
  }
  const popularity = { kind: 'popularity' as const, alpha: alpha ?? DEFAULT_SAMPLE_ALPHA };
  const o: LossOptions = { numNegatives: negatives, sharing };
  if (sampler === 'in-batch') {
    o.inBatch = true;
    o.sampler = popularity;
    o.numNegatives = negatives ?? 0;
  } else if (sampler !== undefined) {
    o.inBatch = false;
    o.sampler = sampler === 'popularity' ? popularity : (sampler as 'uniform' | 'log-uniform');
  } else if (alpha !== undefined) {
    o.sampler = popularity;
  }
  return createLoss(name, o);
}

/**
 * Whether data-parallel training may split a batch across workers with this loss: only plain
 * named losses (full softmax). Functions cannot be sent to workers, and sampled losses draw
 * their negatives (and take in-batch negatives) over the WHOLE batch, which a split changes.
 */
export function lossSplitsAcrossWorkers(loss: LossName | LossFunction): boolean {
  return typeof loss === 'string' && Object.prototype.hasOwnProperty.call(LOSSES, loss) && !isContextualLoss(LOSSES[loss]);
}

/**
 * A loss by name or function. With `ctx`, a `ContextualLoss` is bound to the data (its
 * popularity samplers built from `ctx.itemPopularity`); without, it is returned as is.
 */
export function resolveLoss(loss: LossName | LossFunction, ctx?: LossContext): LossFunction {
  let fn: LossFunction;
  if (typeof loss === 'function') fn = loss;
  else {
    checkName(loss);
    fn = LOSSES[loss];
  }
  return ctx && isContextualLoss(fn) ? fn.withContext(ctx) : fn;
}
