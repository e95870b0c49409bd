export { isAsyncRetriever, type SearchOptions, type SearchResult, type Retriever, type AsyncRetriever } from './types.js';
export type { ExcludeList } from './exclude.js';
export { TopKHeap, topK, type TopKResult, type TopKOptions } from './topk.js';
export { mergeInterestCandidates, mergeInterestCandidatesBatch } from './merge.js';
export { ExactRetriever, type ExactRetrieverOptions } from './exact.js';
export { controllableAggregate, controllableAggregateBatch, categoryDiversity, type CategoryMap, type ControllableOptions } from './controllable.js';
export {
  FaissRetriever,
  faissAvailable,
  faissNodeVersion,
  FAISS_INSTALL_HINT,
  FAISS_SIDECAR_FORMAT,
  FAISS_SIDECAR_VERSION,
  type FaissRetrieverOptions,
  type FaissLoadOptions,
  type FaissIndexSidecar,
} from './faiss.js';
export {
  PgvectorRetriever,
  writeItemTable,
  itemTableName,
  PGVECTOR_DEFAULTS,
  PG_INSTALL_HINT,
  type PgvectorOpenOptions,
  type PgvectorConnectOptions,
  type PgvectorIndexOptions,
  type ItemTableInfo,
  type WriteItemTableOptions,
  type WriteItemTableResult,
} from './pgvector.js';
