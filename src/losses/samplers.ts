/**
 * Negative samplers. Every sampler:
 * - draws item ids in 1..itemCount-1 (index 0 is padding and is never drawn),
 * - draws from the `Random` it is given (seqrec's seeded stream), so a seed reproduces a run,
 * - draws in O(1) per item (no per-draw scan over the catalogue),
 * - exposes `probability(id)`, the chance that ONE draw returns `id`, for logQ correction.
 *
 * Samplers:
 * - `uniformSampler(itemCount)`: Q(j) = 1 / (itemCount − 1).
 * - `popularitySampler(counts, alpha)`: Q(j) ∝ count_j^alpha, by Walker's alias method
 *   (Vose's O(n) construction, two uniform numbers per draw). alpha = 1 is popularity,
 *   0 uniform, 0.75 word2vec's choice; GRU4Rec's `sample_alpha`. Items with count 0 are never
 *   drawn when alpha > 0.
 * - `logUniformSampler(itemCount)`: TensorFlow's log-uniform (Zipfian) candidate sampler over
 *   ids with range_max = itemCount, conditioned on not drawing padding:
 *   Q(j) = log((j + 2) / (j + 1)) / log((itemCount + 1) / 2). It approximates popularity sampling only
 *   when ids are ranked by decreasing frequency, which is what seqrec's vocabulary does by
 *   default (`vocabularyOrder: 'frequency'`, index 1 = most frequent item), as ComiRec's
 *   preprocessing does.
 * - `inBatchSampler(counts)`: the distribution of in-batch negatives: another row's target is
 *   `j` with probability count_j / Σ count (the training-target frequency). In-batch losses use
 *   the batch's targets as negatives and this sampler's `probability` for logQ; drawing from it
 *   gives the same distribution without a batch.
 * - `mixedSampler([{ sampler, weight }, …])`: a mixture; Q(j) = Σ_c w_c Q_c(j) / Σ_c w_c.
 */
import type { Random } from '../util/random.js';
import { SeqrecError } from '../errors.js';

export interface NegativeSampler {
  /** 'uniform' | 'popularity' | 'log-uniform' | 'in-batch' | 'mixed' (for reports). */
  readonly kind: string;
  /** Item rows including padding (the vocabulary's size). Draws are in 1..itemCount-1. */
  readonly itemCount: number;
  /** Draws `n` ids with replacement into `out` (allocated when absent) and returns it. */
  sample(n: number, rng: Random, out?: Int32Array): Int32Array;
  /** Probability that one draw returns `id` (0 for padding and out-of-range ids). */
  probability(id: number): number;
  /** A short description, e.g. 'popularity^0.75'. */
  describe(): string;
}

function checkItemCount(itemCount: number, who: string): void {
  if (!Number.isInteger(itemCount) || itemCount < 2) {
    throw new SeqrecError('invalid_config', `${who}: itemCount must be an integer >= 2 (items + padding), got ${itemCount}`, { field: 'itemCount' });
  }
}

function checkCount(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new SeqrecError('invalid_argument', `sample: n must be an integer >= 0, got ${n}`, { field: 'n' });
}

/** Q(j) = 1 / (itemCount − 1) for j in 1..itemCount-1. */
export function uniformSampler(itemCount: number): NegativeSampler {
  checkItemCount(itemCount, 'uniformSampler');
  const k = itemCount - 1;
  return {
    kind: 'uniform',
    itemCount,
    sample(n, rng, out = new Int32Array(n)) {
      checkCount(n);
      for (let i = 0; i < n; i++) out[i] = 1 + rng.int(k);
      return out;
    },
    probability: (id) => (id >= 1 && id < itemCount && Number.isInteger(id) ? 1 / k : 0),
    describe: () => 'uniform',
  };
}

/**
 * Walker's alias table over weights w[0..n) (Vose's construction, O(n)): a draw picks a column
 * i uniformly, then keeps i with probability `keep[i]` or takes `alias[i]`.
 */
export class AliasTable {
  readonly size: number;
  private readonly keep: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i];
      if (!(w >= 0) || !Number.isFinite(w))
        throw new SeqrecError('invalid_argument', `AliasTable: weight ${i} is ${w}; weights must be finite and >= 0`, { field: 'weights' });
      total += w;
    }
    if (!(total > 0)) throw new SeqrecError('invalid_argument', 'AliasTable: all weights are 0', { field: 'weights' });
    this.size = n;
    this.keep = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = new Float64Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      scaled[i] = (weights[i] * n) / total;
      if (scaled[i] < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[nl - 1];
      this.keep[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) {
        nl--;
        small[ns++] = l;
      }
    }
    // Leftovers are 1 up to rounding.
    while (nl > 0) {
      const l = large[--nl];
      this.keep[l] = 1;
      this.alias[l] = l;
    }
    while (ns > 0) {
      const s = small[--ns];
      this.keep[s] = 1;
      this.alias[s] = s;
    }
  }

  /** One draw in [0, size). */
  draw(rng: Random): number {
    const i = rng.int(this.size);
    return rng.next() < this.keep[i] ? i : this.alias[i];
  }
}

/** Weights over ids 1..counts.length-1 (index 0 ignored) as an alias table plus normalised probabilities. */
function weightedSampler(kind: string, label: string, weights: Float64Array): NegativeSampler {
  const itemCount = weights.length;
  checkItemCount(itemCount, `${kind} sampler`);
  let total = 0;
  for (let i = 1; i < itemCount; i++) total += weights[i];
  if (!(total > 0)) throw new SeqrecError('invalid_argument', `${kind} sampler: every item has weight 0 (are the counts empty?)`, { field: 'counts' });
  const table = new AliasTable(weights.subarray(1));
  return {
    kind,
    itemCount,
    sample(n, rng, out = new Int32Array(n)) {
      checkCount(n);
      for (let i = 0; i < n; i++) out[i] = 1 + table.draw(rng);
      return out;
    },
    probability: (id) => (id >= 1 && id < itemCount && Number.isInteger(id) ? weights[id] / total : 0),
    describe: () => label,
  };
}

function countsArray(counts: ArrayLike<number>, who: string): Float64Array {
  const c = Float64Array.from(counts);
  for (let i = 0; i < c.length; i++) {
    if (!(c[i] >= 0) || !Number.isFinite(c[i]))
      throw new SeqrecError('invalid_argument', `${who}: count of item ${i} is ${c[i]}; counts must be finite and >= 0`, { field: 'counts' });
  }
  c[0] = 0;
  return c;
}

/**
 * Q(j) ∝ count_j^alpha over ids 1..counts.length-1 (`counts` is indexed by item id, index 0 =
 * padding is ignored; `dataset.itemPopularity()` has this layout). Built in O(n) as an alias
 * table; each draw is O(1).
 */
export function popularitySampler(counts: ArrayLike<number>, alpha = 1): NegativeSampler {
  if (!(alpha >= 0) || !Number.isFinite(alpha))
    throw new SeqrecError('invalid_config', `popularitySampler: alpha must be a finite number >= 0, got ${alpha}`, { field: 'alpha' });
  const c = countsArray(counts, 'popularitySampler');
  const w = new Float64Array(c.length);
  // alpha = 0 is uniform over every item, seen or not; alpha > 0 never draws unseen items.
  for (let i = 1; i < c.length; i++) w[i] = alpha === 0 ? 1 : c[i] > 0 ? Math.pow(c[i], alpha) : 0;
  return weightedSampler('popularity', `popularity^${alpha}`, w);
}

/**
 * TensorFlow's `log_uniform_candidate_sampler` with range_max = itemCount (what ComiRec passes:
 * its item table, padding row included), whose class c has P(c) = log((c + 2) / (c + 1)) /
 * log(range_max + 1) and is drawn as ⌊exp(u · log(range_max + 1))⌋ − 1. seqrec's item index j
 * is TensorFlow's class j (both put padding at 0). TensorFlow can draw class 0 (ComiRec then
 * scores the padding row as a negative); seqrec never draws padding, so it draws from P
 * conditioned on c ≥ 1, by the same inversion with u restricted to [log 2, log(itemCount + 1)):
 *
 *   Q(j) = log((j + 2) / (j + 1)) / log((itemCount + 1) / 2),   j = 1..itemCount − 1,
 *
 * the same ratios Q(i) / Q(j) as TensorFlow's. (seqrec used to give j log((j + 1) / j) /
 * log(itemCount), i.e. TensorFlow's probability of class j − 1.)
 */
export function logUniformSampler(itemCount: number): NegativeSampler {
  checkItemCount(itemCount, 'logUniformSampler');
  const k = itemCount - 1;
  const low = Math.log(2);
  const width = Math.log(itemCount + 1) - low;
  return {
    kind: 'log-uniform',
    itemCount,
    sample(n, rng, out = new Int32Array(n)) {
      checkCount(n);
      for (let i = 0; i < n; i++) {
        const j = Math.floor(Math.exp(low + rng.next() * width)) - 1;
        // Round-off can only push j one step outside 1..k.
        out[i] = j < 1 ? 1 : j > k ? k : j;
      }
      return out;
    },
    probability: (id) => (id >= 1 && id <= k && Number.isInteger(id) ? Math.log((id + 2) / (id + 1)) / width : 0),
    describe: () => 'log-uniform',
  };
}

/**
 * The distribution of in-batch negatives: another row's target is `j` with probability
 * count_j / Σ count. Flagged `inBatch` so losses take their negatives from the batch's targets
 * instead of drawing.
 */
export function inBatchSampler(counts: ArrayLike<number>): NegativeSampler & { readonly inBatch: true } {
  const s = weightedSampler('in-batch', 'in-batch', countsArray(counts, 'inBatchSampler'));
  return Object.assign(s, { inBatch: true as const });
}

/** A mixture of samplers over the same catalogue: pick a component by weight, then draw from it. */
export function mixedSampler(components: readonly { sampler: NegativeSampler; weight: number }[]): NegativeSampler {
  if (!Array.isArray(components) || components.length === 0)
    throw new SeqrecError('invalid_config', 'mixedSampler: give at least one component', { field: 'components' });
  const itemCount = components[0].sampler.itemCount;
  for (const c of components) {
    if (c.sampler.itemCount !== itemCount)
      throw new SeqrecError('invalid_config', `mixedSampler: components cover ${c.sampler.itemCount} and ${itemCount} item rows`, { field: 'components' });
  }
  const weights = components.map((c) => c.weight);
  const table = new AliasTable(weights);
  const total = weights.reduce((a, b) => a + b, 0);
  return {
    kind: 'mixed',
    itemCount,
    sample(n, rng, out = new Int32Array(n)) {
      checkCount(n);
      const one = new Int32Array(1);
      for (let i = 0; i < n; i++) out[i] = components[table.draw(rng)].sampler.sample(1, rng, one)[0];
      return out;
    },
    probability: (id) => components.reduce((s, c) => s + (c.weight / total) * c.sampler.probability(id), 0),
    describe: () => `mixed(${components.map((c) => `${(c.weight / total).toFixed(2)}·${c.sampler.describe()}`).join(' + ')})`,
  };
}

/**
 * Draws until `n` DISTINCT ids are found (TensorFlow's `unique=True` candidate sampling), by
 * rejection. Returns the ids and the number of draws it took (`tries`), which the expected
 * count of an id among the candidates needs: 1 − (1 − Q(j))^tries.
 */
export function sampleUnique(sampler: NegativeSampler, n: number, rng: Random): { ids: Int32Array; tries: number } {
  checkCount(n);
  const k = sampler.itemCount - 1;
  if (n > k) throw new SeqrecError('invalid_config', `sampleUnique: cannot draw ${n} distinct items from ${k}`, { field: 'numNegatives' });
  const ids = new Int32Array(n);
  const seen = new Set<number>();
  const one = new Int32Array(1);
  let tries = 0;
  const limit = 1000 * (n + 10) + 100 * k;
  while (seen.size < n) {
    if (tries >= limit)
      throw new SeqrecError(
        'invalid_config',
        `sampleUnique: ${tries} draws gave only ${seen.size} of ${n} distinct items from ${sampler.describe()}; ask for fewer`,
        { field: 'numNegatives' },
      );
    const id = sampler.sample(1, rng, one)[0];
    tries++;
    if (!seen.has(id)) {
      ids[seen.size] = id;
      seen.add(id);
    }
  }
  return { ids, tries };
}

/** A sampler by name, resolved against the data when the loss is bound (see `LossContext`). */
export type SamplerSpec =
  | 'uniform'
  | 'log-uniform'
  | 'popularity'
  | 'in-batch'
  | { kind: 'uniform' }
  | { kind: 'log-uniform' }
  | { kind: 'popularity'; alpha?: number }
  | { kind: 'in-batch' }
  | { kind: 'mixed'; components: { sampler: SamplerSpec | NegativeSampler; weight: number }[] };

export const SAMPLER_NAMES = ['uniform', 'popularity', 'log-uniform', 'in-batch'] as const;

/** Default popularity exponent when none is given. */
export const DEFAULT_SAMPLE_ALPHA = 0.75;

export function isSampler(x: unknown): x is NegativeSampler {
  return typeof x === 'object' && x !== null && typeof (x as NegativeSampler).sample === 'function' && typeof (x as NegativeSampler).probability === 'function';
}

/** What a sampler spec may need from the data. */
export interface SamplerContext {
  itemCount: number;
  /** Interaction counts by item id (index 0 = padding), e.g. `dataset.itemPopularity()`. */
  itemPopularity?: ArrayLike<number>;
}

function needCounts(ctx: SamplerContext, what: string): ArrayLike<number> {
  if (!ctx.itemPopularity) {
    throw new SeqrecError(
      'invalid_config',
      `${what} needs item counts: bind the loss to the data with resolveLoss(loss, { itemCount, itemPopularity: dataset.itemPopularity() }) (the Trainer and trainSessionParallel do this), or pass a built sampler`,
      { field: 'sampler' },
    );
  }
  if (ctx.itemPopularity.length !== ctx.itemCount) {
    throw new SeqrecError('shape_mismatch', `${what}: itemPopularity has ${ctx.itemPopularity.length} entries, the item table ${ctx.itemCount} rows`);
  }
  return ctx.itemPopularity;
}

/** Builds a sampler from a spec (or returns a built one after checking its size). */
export function resolveSampler(spec: SamplerSpec | NegativeSampler, ctx: SamplerContext): NegativeSampler {
  if (isSampler(spec)) {
    if (spec.itemCount !== ctx.itemCount) {
      throw new SeqrecError('shape_mismatch', `sampler ${spec.describe()} covers ${spec.itemCount} item rows, the item table has ${ctx.itemCount}`);
    }
    return spec;
  }
  const s = typeof spec === 'string' ? ({ kind: spec } as Exclude<SamplerSpec, string>) : spec;
  switch (s.kind) {
    case 'uniform':
      return uniformSampler(ctx.itemCount);
    case 'log-uniform':
      return logUniformSampler(ctx.itemCount);
    case 'popularity':
      return popularitySampler(needCounts(ctx, 'the popularity sampler'), s.alpha ?? DEFAULT_SAMPLE_ALPHA);
    case 'in-batch':
      return inBatchSampler(needCounts(ctx, 'the in-batch sampler'));
    case 'mixed':
      return mixedSampler(s.components.map((c) => ({ sampler: resolveSampler(c.sampler, ctx), weight: c.weight })));
    default:
      throw new SeqrecError(
        'invalid_config',
        `unknown sampler '${String((s as { kind: unknown }).kind)}'. Should be one of: ${SAMPLER_NAMES.join(', ')}, mixed.`,
        { field: 'sampler' },
      );
  }
}
