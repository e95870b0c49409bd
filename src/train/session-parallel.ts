/**
 * GRU4Rec's training mode for session data: session-parallel mini-batches
 * (src/data/session-parallel.ts) with one hidden state per lane carried across steps, reset to
 * zero only for the lanes whose session ended (G1), in training and in evaluation.
 *
 * Backprop is truncated after every step, as the official GRU4Rec does: a step's initial
 * states are constants (the previous step's states, detached), so each mini-batch is one GRU
 * step, one loss over the lanes' next items, one optimiser update.
 *
 * `trainSessionParallel` is the Trainer's `fitSessions` (src/train/trainer.ts) with the
 * options of one call; `evaluateSessionParallel` (src/train/session-evaluate.ts) is the
 * next-item protocol of the GRU4Rec papers.
 */
import type { SessionSet } from '../data/session-parallel.js';
import { parseSessionTrainOptions, type SessionTrainOptions } from './options.js';
import type { SessionTrainResult } from './records.js';
import type { SessionRecurrentModel } from './session-evaluate.js';
import { Trainer } from './trainer.js';

export { AdagradMomentum, type StepOptimizer } from './adagrad.js';
export type { SessionTrainOptions } from './options.js';
export {
  formatSessionEpoch,
  type SessionEpochRecord,
  type SessionEvaluationOptions,
  type SessionMetrics,
  type SessionTrainResult,
  type TieMode,
} from './records.js';
export { evaluateSessionParallel, evaluateSessionsRanked, type SessionRecurrentModel } from './session-evaluate.js';

/** Trains `model` on `sessions` with session-parallel mini-batches. */
export async function trainSessionParallel(model: SessionRecurrentModel, sessions: SessionSet, options: SessionTrainOptions = {}): Promise<SessionTrainResult> {
  const { evaluation, onStep, onEpochEnd, ...rest } = parseSessionTrainOptions(options);
  return new Trainer(model, rest).fitSessions(sessions, { evaluation, callbacks: { onBatchEnd: onStep, onEpochEnd } });
}
