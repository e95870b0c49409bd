// tfjs-core's declarations use @types/long's global `Long` (a tfjs-core dependency) without
// referencing it; this lets a consumer's type check find it with skipLibCheck false and a
// narrow `types` list.
/// <reference types="long" preserve="true" />
/**
 * `seqrec/serve`: the Recommender, model bundles and the HTTP server. A separate entry so that
 * `import 'seqrec'` does not load fastify; this file only re-exports.
 */
export {
  Recommender,
  type RecommenderOptions,
  type RecommendOptions,
  type Recommendation,
  type ScoredItem,
  type ItemId,
  type RecommenderInfo,
  type FromModelOptions,
  type FallbackKind,
  type FallbackOptions,
} from './recommender.js';
export { FallbackOptionsSchema } from './fallbacks.js';
export {
  exportRankerBundle,
  loadRankerBundle,
  bundleKind,
  RANKER_FORMAT,
  RANKER_VERSION,
  type ExportRankerOptions,
  type LoadedRankerBundle,
  type NeighbourhoodModel,
  type RankerManifest,
} from '../bundle/ranker-bundle.js';
export { coldStartTables, recentPopularity, type ColdStartTables, type ColdStartOptions, type CooccurrenceTable } from '../bundle/cold-start.js';
export {
  exportBundle,
  loadBundle,
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  type ExportBundleOptions,
  type LoadedBundle,
  type BundleSection,
  type FaissIndexWriter,
} from '../bundle/bundle.js';
export { createServer, SERVER_DEFAULTS, type ServerOptions, type AdminOptions, type SeqrecServerState, type ErrorBody } from './server.js';
