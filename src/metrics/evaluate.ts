/**
 * Averaging per-user ranking metrics over many users, in one call or streamed batch by batch.
 */
import { SeqrecError } from '../errors.js';
import {
  hitRateFromScan,
  mrrFromScan,
  ndcgComiRecFromScan,
  ndcgComiRecMasterFromScan,
  ndcgFromScan,
  recallComiRecPaperFromScan,
  recallFromScan,
  scanRanking,
  validateCutoff,
  type RankScan,
} from './ranking.js';

/** Metrics `evaluateRankings` can report. */
export type MetricName = 'recall' | 'ndcg' | 'ndcgComiRec' | 'hitRate' | 'mrr' | 'recallComiRecPaper' | 'ndcgComiRecMaster';

/** Each metric of one user's ranking, from the scan of its ranked list against the targets. */
const FROM_SCAN: Record<MetricName, (scan: RankScan, targets: ArrayLike<number>, n: number) => number> = {
  recall: recallFromScan,
  ndcg: (scan, _targets, n) => ndcgFromScan(scan, n),
  ndcgComiRec: ndcgComiRecFromScan,
  hitRate: (scan, _targets, n) => hitRateFromScan(scan, n),
  mrr: (scan, _targets, n) => mrrFromScan(scan, n),
  recallComiRecPaper: recallComiRecPaperFromScan,
  ndcgComiRecMaster: (scan, _targets, n) => ndcgComiRecMasterFromScan(scan, n),
};

/** The default set, in report order. */
export const METRIC_NAMES: readonly MetricName[] = ['recall', 'ndcg', 'ndcgComiRec', 'hitRate', 'mrr'];

/** Every metric name: the defaults plus the other ComiRec variants (asked for by name). */
export const ALL_METRIC_NAMES: readonly MetricName[] = [...METRIC_NAMES, 'recallComiRecPaper', 'ndcgComiRecMaster'];

/**
 * Ranked lists for many users: either a row-major matrix (`ids` is [numUsers * k], the
 * layout of a retriever's `SearchResult`) or one list per user.
 */
export type RankedLists = { ids: Int32Array; k: number } | ReadonlyArray<ArrayLike<number>>;

/** A report key: `<metric>@<n>`, e.g. `recall@20`, `ndcgComiRec@50`. */
export type MetricKey = `${MetricName}@${number}`;

/**
 * Mean of each metric over users, keyed `<metric>@<n>` (e.g. `recall@20`, `ndcgComiRec@50`),
 * plus `users`: how many users were averaged. Keys are typed, so `report['recal@50']` does
 * not compile; which cutoffs are present is known only at run time.
 */
export type MetricReport = { [key in MetricKey]: number } & { users?: number };

export interface EvaluateOptions {
  /** Cutoffs, e.g. [20, 50]. Each must be <= the length of every ranked list. */
  ns: readonly number[];
  /** Metrics to report, any of {@link ALL_METRIC_NAMES}; default: {@link METRIC_NAMES}. */
  metrics?: readonly MetricName[];
}

function isMatrix(r: RankedLists): r is { ids: Int32Array; k: number } {
  return !Array.isArray(r);
}

/**
 * Streams users in and averages their metrics. Every user weighs the same; users without a
 * hit contribute 0; a user with no held-out items is an error (the metrics are 0/0 and
 * silently dropping or zeroing them would bias the mean).
 *
 * ```ts
 * const acc = new MetricAccumulator({ ns: [20, 50] });
 * for (const batch of batches) acc.add(retriever.search(q, { k: 50 }), batch.targets);
 * const report = acc.result(); // { 'recall@20': ..., ..., users: 1234 }
 * ```
 */
export class MetricAccumulator {
  private readonly ns: number[];
  private readonly metrics: MetricName[];
  private readonly maxN: number;
  /** Running sums, [metric][n] flattened metric-major. */
  private readonly sums: Float64Array;
  private count = 0;

  constructor(options: EvaluateOptions) {
    if (options === null || typeof options !== 'object' || !Array.isArray(options.ns) || options.ns.length === 0) {
      throw new SeqrecError('invalid_argument', `options.ns must be a non-empty array of cutoffs, got ${describe(options?.ns)}`, {
        field: 'ns',
      });
    }
    for (const n of options.ns) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
        throw new SeqrecError('invalid_argument', `options.ns entries must be integers >= 1, got ${String(n)}`, { field: 'ns' });
      }
    }
    // Duplicates would only produce the same key twice; keep the caller's order otherwise.
    this.ns = [...new Set(options.ns)];
    const metrics = options.metrics ?? METRIC_NAMES;
    if (!Array.isArray(metrics) || metrics.length === 0) {
      throw new SeqrecError('invalid_argument', `options.metrics must be a non-empty array, got ${describe(metrics)}`, {
        field: 'metrics',
      });
    }
    for (const m of metrics) {
      if (!ALL_METRIC_NAMES.includes(m)) {
        throw new SeqrecError('invalid_argument', `options.metrics: unknown metric "${String(m)}", expected one of ${ALL_METRIC_NAMES.join(', ')}`, {
          field: 'metrics',
        });
      }
    }
    this.metrics = [...new Set(metrics)];
    this.maxN = Math.max(...this.ns);
    this.sums = new Float64Array(this.metrics.length * this.ns.length);
  }

  /** Users added so far. */
  get users(): number {
    return this.count;
  }

  /**
   * Adds one user's ranked list and held-out items. Validation uses the running user index
   * in messages, so errors point at the offending row of the whole evaluation.
   */
  addUser(ranked: ArrayLike<number>, targets: ArrayLike<number>): this {
    const where = ` (user ${this.count})`;
    if (targets === null || targets === undefined || typeof targets.length !== 'number') {
      throw new SeqrecError('invalid_argument', `targets${where} must be an array of item ids, got ${describe(targets)}`, {
        field: 'targets',
      });
    }
    validateCutoff(this.maxN, ranked.length, targets.length, where);
    this.accumulate(scanRanking(ranked, targets, this.maxN), targets);
    this.count++;
    return this;
  }

  /** Adds a batch of users: `rankings` row u belongs with `targets[u]`. */
  add(rankings: RankedLists, targets: ReadonlyArray<ArrayLike<number>>): this {
    if (!Array.isArray(targets)) {
      throw new SeqrecError('invalid_argument', `targets must be an array with one list per user, got ${describe(targets)}`, {
        field: 'targets',
      });
    }
    if (isMatrix(rankings)) {
      const { ids, k } = rankings;
      if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
        throw new SeqrecError('invalid_argument', `rankings.k must be an integer >= 1, got ${String(k)}`, { field: 'k' });
      }
      if (!(ids instanceof Int32Array) || ids.length % k !== 0) {
        throw new SeqrecError('shape_mismatch', `rankings.ids must be an Int32Array whose length is a multiple of k=${k}, got ${describe(ids)}`, {
          field: 'ids',
        });
      }
      const users = ids.length / k;
      checkUserCount(users, targets.length);
      for (let u = 0; u < users; u++) this.addUser(ids.subarray(u * k, (u + 1) * k), targets[u]);
    } else {
      checkUserCount(rankings.length, targets.length);
      for (let u = 0; u < rankings.length; u++) this.addUser(rankings[u], targets[u]);
    }
    return this;
  }

  /** Means over the users added so far. Throws `data_empty` if there are none. */
  result(): MetricReport {
    if (this.count === 0) {
      throw new SeqrecError('data_empty', 'no users were evaluated: add at least one user before asking for the result');
    }
    const report: MetricReport = {};
    for (let m = 0; m < this.metrics.length; m++) {
      for (let j = 0; j < this.ns.length; j++) {
        report[metricKey(this.metrics[m], this.ns[j])] = this.sums[m * this.ns.length + j] / this.count;
      }
    }
    report.users = this.count;
    return report;
  }

  private accumulate(scan: RankScan, targets: ArrayLike<number>): void {
    for (let m = 0; m < this.metrics.length; m++) {
      for (let j = 0; j < this.ns.length; j++) {
        const n = this.ns[j];
        const v = FROM_SCAN[this.metrics[m]](scan, targets, n);
        this.sums[m * this.ns.length + j] += v;
      }
    }
  }
}

/** The report key of `metric` at cutoff `n`. */
export function metricKey(metric: MetricName, n: number): MetricKey {
  return `${metric}@${n}`;
}

function checkUserCount(rankings: number, targets: number): void {
  if (rankings !== targets) {
    throw new SeqrecError('shape_mismatch', `rankings and targets must describe the same users: got ${rankings} ranked lists and ${targets} target lists`, {
      field: 'targets',
    });
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as ArrayLike<unknown>).length}`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return typeof v;
}

/**
 * Averages each requested metric at each cutoff over users:
 *
 *   report[`${metric}@${n}`] = (1 / U) Σ_u metric(rankings[u], targets[u], n)
 *
 * with the per-user definitions of `recall`, `ndcg`, `ndcgComiRec`, `hitRate`, `mrr`,
 * `recallComiRecPaper` and `ndcgComiRecMaster`. Users without a hit count 0; an empty target list, a
 * cutoff larger than a ranked list, or a different number of ranked and target lists is an
 * error. For data that does not fit in memory at once, use {@link MetricAccumulator}.
 */
export function evaluateRankings(rankings: RankedLists, targets: ReadonlyArray<ArrayLike<number>>, options: EvaluateOptions): MetricReport {
  return new MetricAccumulator(options).add(rankings, targets).result();
}
