/**
 * Sampled softmax cross-entropy (Jean et al., ACL 2015; Bengio & Senécal 2008), the objective
 * of TensorFlow's `sampled_softmax_loss` (ComiRec, MIND) and of the official GRU4Rec's
 * cross-entropy with `n_sample` extra negatives.
 *
 * For row b with positive t and shared negative columns j ∈ S (usable ones only):
 *
 *   o_t = r_bt − logq · log E(t),   o_j = r_bj − logq · log E(j)
 *   loss_b = −o_t + log( exp(o_t) + Σ_{j ∈ S, usable} exp(o_j) )
 *   loss   = mean_b loss_b
 *
 * r = u_b · e_j is the score, E(j) the expected count of j among the candidates (see
 * candidates.ts; one source: E(j) = M · Q(j), and the constant M cancels); with
 * `logQForm: 'gru4rec'` log E is replaced by the official GRU4Rec's log count_j (positive,
 * in-batch columns) and α · log count_j (drawn columns). Excluded columns
 * (accidental hits, the row's own in-batch column) get logit −∞, i.e. they leave the softmax.
 * With every item as a negative and uniform Q, this is exactly the full softmax (tested).
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';
import { embeddingLookup } from '../ops/embedding.js';
import { buildCandidates, contextualLoss, MIN_EXPECTED_COUNT, planNegatives, type LogQOption, type NegativeOptions, type NegativePlan } from './candidates.js';
import { scoreSequenceNegatives, sequenceOfRow } from './sequence-negatives.js';
import { logSumExpRows } from '../ops/log-sum-exp.js';
import { tensorFilledBy } from '../backend/memory.js';
import { DEFAULT_SAMPLE_ALPHA } from './samplers.js';
import type { ContextualLoss, LossFunction, LossInput } from './types.js';

export interface ScoredColumns {
  /** [B] positive scores r_bt. */
  positive: tf.Tensor1D;
  /** [B, M] negative scores r_bj. */
  negatives: tf.Tensor2D;
  /** [B * M] 1 = usable, 0 = excluded; null = all usable. */
  valid?: Float32Array | null;
}

export interface LogQTerms {
  /** [B] logq · log E(t_b), subtracted from the positives. */
  logQPositive?: Float32Array;
  /** [M] logq · log E(j), subtracted from the negative columns; or [B·M], one per row and column. */
  logQNegatives?: Float32Array;
}

/** The formula above on given scores (pure; call inside a tidy or dispose the result). */
export function sampledSoftmaxFromScores(s: ScoredColumns & LogQTerms): tf.Scalar {
  return tf.tidy(() => {
    const [b, m] = s.negatives.shape;
    let positive: tf.Tensor = s.positive;
    if (s.logQPositive) positive = tf.sub(positive, tf.tensor1d(s.logQPositive));
    let negatives: tf.Tensor = s.negatives;
    if (s.valid || s.logQNegatives) {
      // One constant [B, M] bias: −logq·log E(j) for usable columns, −∞ for excluded ones.
      const { valid, logQNegatives } = s;
      const perRow = logQNegatives?.length === b * m;
      const row = logQNegatives && !perRow ? Float32Array.from(logQNegatives, (x) => -x) : null;
      const bias = tensorFilledBy([b, m], (out) => {
        if (perRow) for (let i = 0; i < b * m; i++) out[i] = -logQNegatives![i];
        else
          for (let r = 0; r < b; r++) {
            if (row) out.set(row, r * m);
            else out.fill(0, r * m, (r + 1) * m);
          }
        if (valid) for (let i = 0; i < b * m; i++) if (!(valid[i] > 0)) out[i] = -Infinity;
      });
      negatives = tf.add(negatives, bias);
    }
    return tf.mean(tf.sub(logSumExpRows(tf.expandDims(positive, 1) as tf.Tensor2D, negatives as tf.Tensor2D), positive)) as tf.Scalar;
  });
}

export interface SequenceSharingOption {
  /**
   * Who shares the drawn negatives: the whole batch (default), or, at every position, each
   * training sequence its own M for all its positions (B·M distinct draws a step at the cost of
   * M: K&V's "SASRec+ 3000" also draws per sequence). With one target per row 'sequence' is 'batch'.
   */
  sharing?: 'batch' | 'sequence';
}

export type SampledSoftmaxOptions = NegativeOptions & LogQOption & SequenceSharingOption;

export const DEFAULT_SAMPLED_SOFTMAX: Readonly<SampledSoftmaxOptions> = Object.freeze<SampledSoftmaxOptions>({
  numNegatives: 1024,
  sampler: { kind: 'popularity', alpha: DEFAULT_SAMPLE_ALPHA },
  logQ: true,
});

/**
 * `sampledSoftmax({ numNegatives, sampler, logQ })`: M negatives shared across the batch,
 * drawn from `sampler` (uniform, popularity^alpha, log-uniform, mixed, or a built sampler),
 * optional in-batch negatives, logQ correction, accidental hits removed.
 */
export function sampledSoftmax(options: SampledSoftmaxOptions = DEFAULT_SAMPLED_SOFTMAX, name = 'sampled-softmax'): ContextualLoss {
  const sharing = options.sharing ?? 'batch';
  if (sharing !== 'batch' && sharing !== 'sequence')
    throw new SeqrecError('invalid_config', `${name}: sharing must be 'batch' or 'sequence', got ${String(sharing)}`, { field: 'sharing' });
  return contextualLoss(name, options as Record<string, unknown>, (ctx): LossFunction => {
    const plan = planNegatives(options, ctx, name);
    if (sharing === 'sequence') checkSequencePlan(plan, name);
    return (input) =>
      tf.tidy(() => {
        if (sharing === 'sequence' && input.sequences) return sampledSoftmaxFromScores(perSequenceColumns(input, plan));
        return sampledSoftmaxFromScores(buildCandidates(input, plan));
      });
  });
}

function checkSequencePlan(plan: NegativePlan, name: string): void {
  const refuse = (field: string, what: string) => {
    throw new SeqrecError('invalid_config', `${name}: sharing 'sequence' draws numNegatives per sequence from a sampler; ${what}`, { field });
  };
  if (plan.inBatch) refuse('inBatch', 'in-batch negatives are shared by the batch (use sharing: batch)');
  if (plan.unique) refuse('unique', 'unique draws are not offered per sequence');
  if (plan.negativesPerRow > 0 || plan.numNegatives === 0) refuse('numNegatives', 'give numNegatives (not negativesPerRow)');
  if (plan.logQ > 0 && plan.logQForm !== 'expected-count') refuse('logQForm', "only the 'expected-count' logQ applies");
}

/**
 * Each sequence's M draws scored against its own positions (sequence-negatives.ts); an
 * accidental hit is excluded in its row; logQ per row and column, log(M · Q(j)) (one source).
 */
function perSequenceColumns(input: LossInput, plan: NegativePlan): ScoredColumns & LogQTerms {
  const layout = input.sequences!;
  const m = plan.numNegatives;
  const sampler = plan.sampler!;
  const ids = sampler.sample(layout.batchSize * m, input.rng);
  const rows = input.targetIds.length;
  const negatives = scoreSequenceNegatives(input.user, embeddingLookup(input.items, tf.tensor1d(ids, 'int32')) as tf.Tensor2D, layout, m);
  const positive = tf.sum(tf.mul(input.user, input.targetEmbeddings), 1) as tf.Tensor1D;
  let valid: Float32Array | null = null;
  const logQNegatives = plan.logQ > 0 ? new Float32Array(rows * m) : undefined;
  for (let r = 0; r < rows; r++) {
    const base = sequenceOfRow(layout, r) * m;
    for (let j = 0; j < m; j++) {
      const id = ids[base + j];
      if (logQNegatives) logQNegatives[r * m + j] = plan.logQ * Math.log(Math.max(m * sampler.probability(id), MIN_EXPECTED_COUNT));
      if (plan.removeAccidentalHits && id === input.targetIds[r]) (valid ??= new Float32Array(rows * m).fill(1))[r * m + j] = 0;
    }
  }
  const logQPositive = logQNegatives
    ? Float32Array.from(input.targetIds, (t) => plan.logQ * Math.log(Math.max(m * sampler.probability(t), MIN_EXPECTED_COUNT)))
    : undefined;
  return { positive, negatives, valid, logQPositive, logQNegatives };
}
