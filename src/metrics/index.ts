export { recall, recallComiRecPaper, hitRate, ndcg, ndcgComiRec, ndcgComiRecMaster, mrr } from './ranking.js';
export {
  evaluateRankings,
  MetricAccumulator,
  METRIC_NAMES,
  ALL_METRIC_NAMES,
  type MetricName,
  metricKey,
  type MetricKey,
  type MetricReport,
  type RankedLists,
  type EvaluateOptions,
} from './evaluate.js';
