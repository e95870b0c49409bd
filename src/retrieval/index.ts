export type { SearchOptions, SearchResult, Retriever } from './types.js';
export type { ExcludeList } from './exclude.js';
export { TopKHeap, topK, type TopKResult, type TopKOptions } from './topk.js';
export { mergeInterestCandidates, mergeInterestCandidatesBatch } from './merge.js';
export { ExactRetriever, type ExactRetrieverOptions } from './exact.js';
export {
  controllableAggregate,
  controllableAggregateBatch,
  categoryDiversity,
  type CategoryMap,
  type ControllableOptions,
} from './controllable.js';
