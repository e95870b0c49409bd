import { SeqrecError } from '../errors.js';
import { softmaxCrossEntropy } from './softmax.js';
import type { LossFunction } from './types.js';

export type { LossFunction, LossInput } from './types.js';
export { softmaxCrossEntropy };

/** Losses by name, for configs and the CLI. */
export const LOSSES = {
  softmax: softmaxCrossEntropy,
} as const satisfies Record<string, LossFunction>;

export type LossName = keyof typeof LOSSES;

export function resolveLoss(loss: LossName | LossFunction): LossFunction {
  if (typeof loss === 'function') return loss;
  const fn = (LOSSES as Record<string, LossFunction>)[loss];
  if (!fn) {
    throw new SeqrecError('invalid_config', `Unknown loss '${loss}'. Should be one of: ${Object.keys(LOSSES).join(', ')}.`, { field: 'loss' });
  }
  return fn;
}
