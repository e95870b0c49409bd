export { recall, hitRate, ndcg, ndcgComiRec, mrr } from './ranking.js';
export {
  evaluateRankings,
  MetricAccumulator,
  METRIC_NAMES,
  type MetricName,
  type MetricReport,
  type RankedLists,
  type EvaluateOptions,
} from './evaluate.js';
