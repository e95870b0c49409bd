/**
 * Metrics per user-activity segment: the valid or test users bucketed by the length of their
 * history before the held-out items, each bucket with the model's and MostPopular's metrics.
 * Short histories are where a sequential model has least to go on (and where cold-start
 * fallbacks matter), so one overall number hides what users with few events get.
 */
import type { SequenceDataset } from '../data/dataset.js';
import { SeqrecError } from '../errors.js';
import { MetricAccumulator, type MetricReport } from '../metrics/index.js';
import type { BaseRecaller } from '../models/base.js';
import type { ItemRanker } from '../models/knn/ranker.js';
import { DEFAULT_NS, historyLength, popularityRanking, rankUsers, type EvaluationOptions } from './evaluate.js';

/** Default bucket edges: histories of 1-4, 5-9, 10-19, 20-49, 50-99 and 100+ items. */
export const DEFAULT_SEGMENT_EDGES: readonly number[] = [5, 10, 20, 50, 100];

export interface SegmentReport {
  /** '1-4', '5-9', ..., '100+'. */
  label: string;
  /** Shortest history length in the bucket (inclusive). */
  min: number;
  /** Longest history length in the bucket (inclusive); null for the open last bucket. */
  max: number | null;
  /** Users in the bucket. */
  users: number;
  model: MetricReport;
  popularity: MetricReport;
}

/** Bucket edges as given, checked: increasing integers >= 2 (the first bucket starts at 1). */
function checkEdges(edges: readonly number[]): number[] {
  const list = [...edges];
  list.forEach((e, i) => {
    if (!Number.isInteger(e) || e < 2 || (i > 0 && e <= list[i - 1])) {
      throw new SeqrecError('invalid_argument', `segment edges must be increasing integers >= 2, got [${list.join(', ')}]`, { field: 'segments' });
    }
  });
  return list;
}

/**
 * `evaluateModel` per history-length bucket. `edges` [5, 10] gives buckets 1-4, 5-9 and 10+;
 * buckets with no user are left out. Exclusions, cutoffs and retrieval as in evaluateModel.
 */
export function evaluateSegments(
  model: BaseRecaller | ItemRanker,
  dataset: SequenceDataset,
  split: 'valid' | 'test',
  options: EvaluationOptions & { edges?: readonly number[] } = {},
): SegmentReport[] {
  const edges = checkEdges(options.edges ?? DEFAULT_SEGMENT_EDGES);
  const ns = options.ns ?? DEFAULT_NS;
  const bounds = [1, ...edges].map((min, i) => ({ min, max: i < edges.length ? edges[i] - 1 : null }));
  const modelAcc = bounds.map(() => new MetricAccumulator({ ns }));
  const popularAcc = bounds.map(() => new MetricAccumulator({ ns }));
  const popular = popularityRanking(dataset.itemPopularity(), Math.max(...ns));
  // The bucket of a length: the last one whose min it reaches (lengths below 1 go to the first).
  const bucketOf = (length: number) => {
    let s = 0;
    while (s + 1 < bounds.length && length >= bounds[s + 1].min) s++;
    return s;
  };
  rankUsers(model, dataset, split, options, (batch, ranked) => {
    for (let b = 0; b < batch.batchSize; b++) {
      const s = bucketOf(historyLength(dataset, split, batch.users[b]));
      modelAcc[s].addUser(ranked.ids.subarray(b * ranked.k, (b + 1) * ranked.k), batch.targets[b]);
      popularAcc[s].addUser(popular, batch.targets[b]);
    }
  });
  return bounds.flatMap((b, s) =>
    modelAcc[s].users === 0
      ? []
      : [
          {
            label: b.max === null ? `${b.min}+` : `${b.min}-${b.max}`,
            ...b,
            users: modelAcc[s].users,
            model: modelAcc[s].result(),
            popularity: popularAcc[s].result(),
          },
        ],
  );
}
