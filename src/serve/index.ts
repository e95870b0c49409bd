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
} from './recommender.js';
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
