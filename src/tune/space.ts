/**
 * Hyperparameter search for `seqrec tune`: the search space file and the successive-halving
 * schedule, as plain functions (the command in src/cli/commands/tune.ts runs the trials).
 *
 * The space is a JSON object keyed by `seqrec train` flag names, each value one of
 *   [a, b, c]              a choice
 *   {"uniform": [lo, hi]}  a float drawn uniformly
 *   {"log": [lo, hi]}      a float drawn log-uniformly (learning rates)
 *   {"int": [lo, hi]}      an integer drawn uniformly, both ends included
 * Configurations are drawn by a seeded random search; trial t's draw depends only on the seed
 * and t, so a resumed search draws the same configurations.
 *
 * Successive halving (Jamieson & Talwalkar 2016; Li et al.'s Hyperband runs it per bracket):
 * every configuration trains with the smallest epoch budget, the best 1/η by the monitored
 * valid metric go on with η times the budget, and so on up to the maximum. As in scikit-learn's
 * HalvingRandomSearchCV, a promoted configuration is retrained from scratch with its larger budget.
 */
import { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { Random } from '../util/random.js';
import { didYouMean } from '../util/schema.js';

const pair = z.tuple([z.number(), z.number()]).refine(([lo, hi]) => lo <= hi, { error: 'must be [lo, hi] with lo <= hi' });
const ParamSchema = z.union([
  z.array(z.union([z.string(), z.number(), z.boolean()])).min(1, { error: 'a choice needs at least one value' }),
  z.strictObject({ uniform: pair }),
  z.strictObject({ log: pair.refine(([lo]) => lo > 0, { error: 'log bounds must be > 0' }) }),
  z.strictObject({ int: pair.refine(([lo, hi]) => Number.isInteger(lo) && Number.isInteger(hi), { error: 'int bounds must be integers' }) }),
]);
export const SearchSpaceSchema = z.record(z.string(), ParamSchema);
export type SearchSpace = z.infer<typeof SearchSpaceSchema>;
export type TrialConfig = Record<string, string | number | boolean>;

/** Checks a parsed space file; `known` are the flag names a trial may set. */
export function parseSpace(json: unknown, known: readonly string[], file: string): SearchSpace {
  const parsed = SearchSpaceSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SeqrecError('invalid_config', `${file}: ${issue.path.join('.') || 'the space'} ${issue.message}`, { file, field: String(issue.path[0] ?? '') });
  }
  const space = parsed.data;
  if (Object.keys(space).length === 0) throw new SeqrecError('invalid_config', `${file}: the space has no parameters`, { file });
  for (const key of Object.keys(space)) {
    if (!known.includes(key)) {
      throw new SeqrecError('invalid_config', `${file}: '${key}' is not a flag a trial can set${didYouMean(key, known)} (one of ${known.join(', ')})`, {
        file,
        field: key,
      });
    }
  }
  return space;
}

/** Trial t's configuration: one draw per parameter, in the space's key order. */
export function sampleConfig(space: SearchSpace, seed: number, trial: number): TrialConfig {
  const rng = new Random(seed * 1_000_003 + trial + 1);
  const out: TrialConfig = {};
  for (const [key, p] of Object.entries(space)) {
    if (Array.isArray(p)) out[key] = p[rng.int(p.length)];
    else if ('uniform' in p) out[key] = p.uniform[0] + rng.next() * (p.uniform[1] - p.uniform[0]);
    else if ('log' in p) out[key] = Math.exp(Math.log(p.log[0]) + rng.next() * (Math.log(p.log[1]) - Math.log(p.log[0])));
    else out[key] = p.int[0] + rng.int(p.int[1] - p.int[0] + 1);
  }
  return out;
}

export interface Rung {
  /** Epoch budget of this rung. */
  epochs: number;
  /** Configurations trained at this rung. */
  trials: number;
}

/**
 * The rungs for `trials` configurations: budgets minEpochs · η^k, keeping ceil(trials / η^k)
 * configurations, until one is left or the next budget would pass maxEpochs; the last rung
 * trains with maxEpochs.
 */
export function halvingRungs(trials: number, minEpochs: number, maxEpochs: number, eta = 3): Rung[] {
  if (!Number.isInteger(trials) || trials < 1) throw new SeqrecError('invalid_argument', `trials must be an integer >= 1, got ${trials}`, { field: 'trials' });
  if (minEpochs > maxEpochs) throw new SeqrecError('invalid_argument', `--min-epochs ${minEpochs} exceeds --epochs ${maxEpochs}`, { field: 'min-epochs' });
  const rungs: Rung[] = [];
  for (let k = 0; ; k++) {
    const n = Math.max(1, Math.ceil(trials / eta ** k));
    // The last rung (one survivor, or the next budget past the maximum) trains with the maximum.
    const last = n === 1 || minEpochs * eta ** (k + 1) > maxEpochs;
    rungs.push({ epochs: last ? maxEpochs : Math.round(minEpochs * eta ** k), trials: n });
    if (last) return rungs;
  }
}

/** Values of a config as `seqrec train` arguments (`--lr 0.003`). */
export function configArgs(config: TrialConfig): string[] {
  return Object.entries(config).flatMap(([key, v]) => (typeof v === 'boolean' ? (v ? [`--${key}`] : []) : [`--${key}`, String(v)]));
}
