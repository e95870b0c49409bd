/**
 * The columns a sampled loss scores: each row's positive and a set of negatives SHARED by the
 * whole batch (drawn before anything is scored: GRU4Rec's G2). Only these columns are scored:
 * the negatives' rows are gathered from the item table with `embeddingLookup` (sparse
 * gradient), so the cost is O(B · M · D) whatever the catalogue size.
 *
 * Negatives come from up to two sources:
 * - in-batch: the other rows' targets (the positives' own rows);
 * - `numNegatives` (or `negativesPerRow` × B) extra ids drawn from a sampler, with replacement
 *   or, with `unique`, without (TensorFlow's `unique=True`).
 *
 * Excluded columns (`valid` = 0): a row's own positive in the in-batch block, and, with
 * `removeAccidentalHits` (default), every negative column whose id equals the row's target.
 *
 * logQ (softmax losses only), two forms (`logQForm`):
 * - 'expected-count' (default): the expected number of times id j appears among one row's
 *   candidate columns,
 *     E(j) = (B − 1) · q_batch(j)  [in-batch]  +  M · Q(j)  [drawn]   or, with unique draws,
 *            1 − (1 − Q(j))^tries in place of M · Q(j)                   (TensorFlow's formula),
 *   where q_batch(j) = count_j / Σ count and Q is the sampler's per-draw probability; every
 *   column's logit, the positive's included, loses logq · log E(j). With one source this is
 *   TensorFlow's sampled_softmax_loss (subtract_log_q) and Yi et al. RecSys 2019; a constant
 *   factor of E cancels in the softmax. With both sources each column gets the same mixture.
 * - 'gru4rec': the official GRU4Rec's form (Theano gru4rec.py `model`, PyTorch
 *   `xe_loss_with_softmax`): the positive and the in-batch columns lose logq · log(count_j),
 *   the drawn columns logq · α · log(count_j), α the popularity sampler's exponent
 *   (`sample_alpha`; uniform = 0). Unnormalised: the offset between the two blocks is
 *   log Σ count^α − log Σ count, not what a mixture gives, so the two forms differ whenever
 *   both sources are on. Needs the data's counts and a popularity or uniform sampler.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeqrecError } from '../errors.js';
import { embeddingLookup } from '../ops/embedding.js';
import { DEFAULT_SAMPLE_ALPHA, isSampler, resolveSampler, sampleUnique, type NegativeSampler, type SamplerSpec } from './samplers.js';
import type { ContextualLoss, LossContext, LossFunction, LossInput } from './types.js';

/** Where a loss gets its negatives. */
export interface NegativeOptions {
  /** Extra negatives drawn per batch from `sampler`, shared by every row. */
  numNegatives?: number;
  /** Alternative to `numNegatives`: draw this many per row, i.e. M = negativesPerRow × B (ComiRec). */
  negativesPerRow?: number;
  /** Sampler of the drawn negatives: a spec resolved against the data, or a built sampler. */
  sampler?: SamplerSpec | NegativeSampler;
  /** Use the other rows' targets as negatives too (GRU4Rec's scheme). */
  inBatch?: boolean;
  /** Draw distinct ids (TensorFlow's unique=True). Default false (with replacement, as GRU4Rec). */
  unique?: boolean;
  /** Exclude negatives equal to the row's positive. Default true. */
  removeAccidentalHits?: boolean;
}

/** Softmax losses only: subtract `logQ` × (the form's log term) from the logits (true = 1, false = 0). */
export interface LogQOption {
  logQ?: boolean | number;
  /** Which log term (see the module comment). Default 'expected-count'. */
  logQForm?: LogQForm;
}

export type LogQForm = 'expected-count' | 'gru4rec';

/** The resolved plan: samplers built, counts checked. */
export interface NegativePlan {
  inBatch: boolean;
  numNegatives: number;
  negativesPerRow: number;
  sampler: NegativeSampler | null;
  unique: boolean;
  removeAccidentalHits: boolean;
  /** logQ weight; 0 = off. */
  logQ: number;
  /** q_batch for in-batch logQ (only when inBatch and logQ > 0, 'expected-count' form). */
  batchSampler: NegativeSampler | null;
  logQForm: LogQForm;
  /** 'gru4rec' form: log(count_j) by item id, and the drawn columns' factor α. */
  logCounts: Float64Array | null;
  drawnAlpha: number;
}

/** The scored columns of one batch. */
export interface Candidates {
  /** [B] score of each row's positive, u_b · e_{t_b}. */
  positive: tf.Tensor1D;
  /** [B, C] scores of the negative columns, u_b · e_{c}. */
  negatives: tf.Tensor2D;
  /** [B * C] 1 = usable negative, 0 = excluded; null when every column is usable. */
  valid: Float32Array | null;
  /** [C] item id of each negative column (in-batch block first). */
  columnIds: Int32Array;
  /** [B] / [C] log E(j) of the positives and the columns (present when logQ is on). */
  logQPositive?: Float32Array;
  logQNegatives?: Float32Array;
}

/**
 * Upper bounds far above any published setting (GRU4Rec 2,048 shared; ComiRec 10 per row), so
 * that a typo such as 1e9 is an error, not a [B, M] score matrix no memory can hold.
 */
const MAX_NEGATIVES = 1_000_000;
const MAX_NEGATIVES_PER_ROW = 4_096;

function nonNegativeInt(v: number | undefined, name: string, max: number): number {
  const n = v ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new SeqrecError('invalid_config', `${name} must be an integer in [0, ${max}], got ${String(v)}`, { field: name });
  return n;
}

/** Checks the options and builds the samplers against the data. */
export function planNegatives(options: NegativeOptions & LogQOption, ctx: LossContext, lossName: string): NegativePlan {
  const numNegatives = nonNegativeInt(options.numNegatives, 'numNegatives', MAX_NEGATIVES);
  const negativesPerRow = nonNegativeInt(options.negativesPerRow, 'negativesPerRow', MAX_NEGATIVES_PER_ROW);
  if (numNegatives > 0 && negativesPerRow > 0) {
    throw new SeqrecError('invalid_config', `${lossName}: give numNegatives or negativesPerRow, not both`, { field: 'numNegatives' });
  }
  let inBatch = options.inBatch ?? false;
  let spec = options.sampler;
  // The 'in-batch' sampler means: negatives from the batch (its probability gives logQ).
  if (spec === 'in-batch' || (typeof spec === 'object' && !isSampler(spec) && spec.kind === 'in-batch') || (isSampler(spec) && spec.kind === 'in-batch')) {
    inBatch = true;
    spec = undefined;
  }
  const draws = numNegatives > 0 || negativesPerRow > 0;
  if (draws && spec === undefined)
    throw new SeqrecError('invalid_config', `${lossName}: ${numNegatives || negativesPerRow} drawn negatives need a sampler`, { field: 'sampler' });
  if (!draws && !inBatch)
    throw new SeqrecError('invalid_config', `${lossName}: no negatives (set numNegatives > 0 with a sampler, or inBatch)`, { field: 'numNegatives' });
  const logQ = options.logQ === undefined || options.logQ === false ? 0 : options.logQ === true ? 1 : options.logQ;
  if (!(logQ >= 0) || !Number.isFinite(logQ))
    throw new SeqrecError('invalid_config', `${lossName}: logQ must be a boolean or a number >= 0, got ${String(options.logQ)}`, { field: 'logQ' });
  const logQForm = options.logQForm ?? 'expected-count';
  if (logQForm !== 'expected-count' && logQForm !== 'gru4rec') {
    throw new SeqrecError('invalid_config', `${lossName}: logQForm must be 'expected-count' or 'gru4rec', got ${String(logQForm)}`, { field: 'logQForm' });
  }
  let logCounts: Float64Array | null = null;
  let drawnAlpha = 0;
  if (logQForm === 'gru4rec' && logQ > 0) {
    if (!ctx.itemPopularity || ctx.itemPopularity.length !== ctx.itemCount) {
      throw new SeqrecError(
        'invalid_config',
        `${lossName}: logQForm 'gru4rec' needs the data's item counts (bind the loss with resolveLoss(loss, { itemCount, itemPopularity }))`,
        { field: 'logQForm' },
      );
    }
    logCounts = Float64Array.from(ctx.itemPopularity, (c) => Math.log(Math.max(c, MIN_EXPECTED_COUNT)));
    if (draws) drawnAlpha = samplerAlpha(spec!, lossName);
  }
  const sampler = draws ? resolveSampler(spec!, ctx) : null;
  if (sampler && options.unique && numNegatives > sampler.itemCount - 1) {
    throw new SeqrecError('invalid_config', `${lossName}: cannot draw ${numNegatives} distinct negatives from ${sampler.itemCount - 1} items`, {
      field: 'numNegatives',
    });
  }
  return {
    inBatch,
    numNegatives,
    negativesPerRow,
    sampler,
    unique: options.unique ?? false,
    removeAccidentalHits: options.removeAccidentalHits ?? true,
    logQ,
    batchSampler: inBatch && logQ > 0 && logQForm === 'expected-count' ? resolveSampler('in-batch', ctx) : null,
    logQForm,
    logCounts,
    drawnAlpha,
  };
}

/** The exponent α of a popularity (count^α) or uniform (α = 0) sampler spec, for the 'gru4rec' logQ form. */
function samplerAlpha(spec: SamplerSpec | NegativeSampler, lossName: string): number {
  if (!isSampler(spec)) {
    const kind = typeof spec === 'string' ? spec : spec.kind;
    if (kind === 'uniform') return 0;
    if (kind === 'popularity') return typeof spec === 'object' && spec.kind === 'popularity' && spec.alpha !== undefined ? spec.alpha : DEFAULT_SAMPLE_ALPHA;
  }
  const what = isSampler(spec) ? `a built sampler (${spec.describe()})` : `the '${typeof spec === 'string' ? spec : spec.kind}' sampler`;
  throw new SeqrecError('invalid_config', `${lossName}: logQForm 'gru4rec' needs a popularity or uniform sampler spec (it uses log count^α), got ${what}`, {
    field: 'logQForm',
  });
}

/** Floor of E(j) before the log, so an id the samplers cannot produce gives a finite logit. */
export const MIN_EXPECTED_COUNT = 1e-30;

/**
 * Draws the batch's negatives (from `input.rng`), gathers their embeddings and scores the
 * positive and negative columns. Call inside a tidy.
 */
export function buildCandidates(input: LossInput, plan: NegativePlan): Candidates {
  const { user, items, targetIds, targetEmbeddings, rng } = input;
  const b = targetIds.length;
  const itemCount = items.shape[0];
  if (plan.sampler && plan.sampler.itemCount !== itemCount) {
    throw new SeqrecError(
      'shape_mismatch',
      `the loss's sampler covers ${plan.sampler.itemCount} item rows, the item table has ${itemCount}: bind the loss to this model's data`,
    );
  }
  // 1. Draw (before scoring anything).
  let m = plan.negativesPerRow > 0 ? plan.negativesPerRow * b : plan.numNegatives;
  let drawn: Int32Array = new Int32Array(0);
  let tries = 0;
  if (plan.sampler && m > 0) {
    if (plan.unique) {
      m = Math.min(m, itemCount - 1);
      const u = sampleUnique(plan.sampler, m, rng);
      drawn = u.ids;
      tries = u.tries;
    } else {
      drawn = plan.sampler.sample(m, rng);
    }
  }
  const inB = plan.inBatch ? b : 0;
  const c = inB + drawn.length;
  const columnIds = new Int32Array(c);
  if (plan.inBatch) columnIds.set(targetIds, 0);
  columnIds.set(drawn, inB);

  // 2. Gather only the positives' and the drawn rows, in ONE lookup (with dense item gradients
  //    each lookup's gradient is a full [itemCount, D] array, so one lookup, not two); score them.
  let positiveEmb = targetEmbeddings;
  let drawnEmb: tf.Tensor2D | null = null;
  if (drawn.length) {
    const ids = new Int32Array(b + drawn.length);
    ids.set(targetIds, 0);
    ids.set(drawn, b);
    const rows = embeddingLookup(items, tf.tensor1d(ids, 'int32')) as tf.Tensor2D;
    positiveEmb = tf.slice(rows, [0, 0], [b, -1]);
    drawnEmb = tf.slice(rows, [b, 0], [-1, -1]);
  }
  const blocks: tf.Tensor2D[] = [];
  if (plan.inBatch) blocks.push(positiveEmb);
  if (drawnEmb) blocks.push(drawnEmb);
  const negEmb = blocks.length === 1 ? blocks[0] : tf.concat(blocks, 0);
  const negatives = tf.matMul(user, negEmb, false, true) as tf.Tensor2D;
  const positive = tf.sum(tf.mul(user, positiveEmb), 1) as tf.Tensor1D;

  // 3. Excluded columns.
  let valid: Float32Array | null = null;
  if (plan.inBatch || plan.removeAccidentalHits) {
    // The columns of each item id, so a row finds its accidental hits without a pass over all c.
    const columnsOf = new Map<number, number[]>();
    if (plan.removeAccidentalHits) {
      columnIds.forEach((id, k) => {
        const list = columnsOf.get(id);
        if (list) list.push(k);
        else columnsOf.set(id, [k]);
      });
    }
    valid = new Float32Array(b * c).fill(1);
    let excluded = 0;
    const exclude = (i: number) => {
      if (valid![i] === 0) return;
      valid![i] = 0;
      excluded++;
    };
    for (let r = 0; r < b; r++) {
      if (plan.inBatch) exclude(r * c + r);
      for (const k of columnsOf.get(targetIds[r]) ?? []) exclude(r * c + k);
    }
    if (excluded === 0) valid = null;
  }

  const out: Candidates = { positive, negatives, valid, columnIds };
  // 4. logQ terms.
  if (plan.logQ > 0 && plan.logCounts) {
    const lc = plan.logCounts;
    out.logQPositive = Float32Array.from(targetIds, (id) => plan.logQ * lc[id]);
    out.logQNegatives = Float32Array.from(columnIds, (id, k) => plan.logQ * (k < inB ? 1 : plan.drawnAlpha) * lc[id]);
  } else if (plan.logQ > 0) {
    const expected = (id: number): number => {
      let e = 0;
      if (plan.batchSampler) e += (b - 1) * plan.batchSampler.probability(id);
      if (plan.sampler && drawn.length) {
        const p = plan.sampler.probability(id);
        e += plan.unique ? -Math.expm1(tries * Math.log1p(-Math.min(p, 1 - 1e-16))) : drawn.length * p;
      }
      return Math.log(Math.max(e, MIN_EXPECTED_COUNT)) * plan.logQ;
    };
    const cache = new Map<number, number>();
    const logE = (id: number): number => {
      let v = cache.get(id);
      if (v === undefined) cache.set(id, (v = expected(id)));
      return v;
    };
    out.logQPositive = Float32Array.from(targetIds, logE);
    out.logQNegatives = Float32Array.from(columnIds, logE);
  }
  return out;
}

/**
 * Wraps a loss whose build needs the data into a `ContextualLoss`: called unbound it builds
 * itself from the item table's size alone (cached per size); `withContext` binds it to the
 * data's counts.
 */
export function contextualLoss(lossName: string, settings: Record<string, unknown>, build: (ctx: LossContext) => LossFunction): ContextualLoss {
  let cached: { itemCount: number; fn: LossFunction } | null = null;
  const fn: LossFunction = (input) => {
    const itemCount = input.items.shape[0];
    if (!cached || cached.itemCount !== itemCount) cached = { itemCount, fn: build({ itemCount }) };
    return cached.fn(input);
  };
  return Object.assign(fn, {
    lossName,
    settings: Object.freeze({ ...settings }),
    withContext: (ctx: LossContext) => {
      if (!Number.isInteger(ctx.itemCount) || ctx.itemCount < 2) {
        throw new SeqrecError('invalid_config', `${lossName}: LossContext.itemCount must be an integer >= 2, got ${ctx.itemCount}`, { field: 'itemCount' });
      }
      return build(ctx);
    },
  });
}

/** A readable summary of where the negatives come from, for logs and reports. */
export function describeNegatives(options: NegativeOptions & LogQOption): string {
  const parts: string[] = [];
  const spec = options.sampler;
  const inBatch = options.inBatch || spec === 'in-batch';
  if (inBatch) parts.push('in-batch');
  const n = options.numNegatives ? `${options.numNegatives}` : options.negativesPerRow ? `${options.negativesPerRow}×B` : '';
  if (n && spec !== undefined && spec !== 'in-batch') {
    const name = isSampler(spec)
      ? spec.describe()
      : typeof spec === 'string'
        ? spec
        : spec.kind === 'popularity'
          ? `popularity^${spec.alpha ?? 'default'}`
          : spec.kind;
    parts.push(`${n} ${name}${options.unique ? ' unique' : ''}`);
  }
  if (options.logQ) parts.push(options.logQForm === 'gru4rec' ? 'logQ (GRU4Rec form)' : 'logQ');
  return parts.join(' + ');
}
