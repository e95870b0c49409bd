// tfjs-core's declarations use @types/long's global `Long` (a tfjs-core dependency) without
// referencing it; this lets a consumer's type check find it with skipLibCheck false and a
// narrow `types` list.
/// <reference types="long" preserve="true" />
/**
 * seqrec's main entry: data, models, losses, training, retrieval, metrics and errors. Only what
 * is exported here (by name) is public; serving lives in `seqrec/serve` and plotting in
 * `seqrec/plot`, so `import 'seqrec'` loads neither fastify nor resvg, umap-js or vega.
 */

// Backend selection
export { initBackend, useBackend, backendReport, describeBackend, type BackendName, type BackendReport } from './backend/index.js';

// Data
export {
  Random,
  detectFormat,
  loadInteractions,
  TAOBAO_BEHAVIORS,
  MAX_ID_LENGTH,
  DEFAULT_MAX_SKIP_RATE,
  categoryIndex,
  ItemVocabulary,
  kCore,
  historyCut,
  leaveOneOut,
  splitUsers,
  SequenceDataset,
  generateSynthetic,
  DATA_ENGINES,
  loadSequenceDataset,
  type DataEngine,
  type DatasetSourceOptions,
  type LoadDatasetOptions,
  type LoadedDataset,
  type EvalBatch,
  type InteractionLog,
  type LoadStats,
  type SequenceBatch,
  type TrainBatch,
  type UserSequence,
  type ColumnOptions,
  type DataFormat,
  type LoadOptions,
  type TaobaoBehavior,
  type CategoryIndex,
  type VocabularyBuildOptions,
  type VocabularyJSON,
  type KCoreOptions,
  type KCoreReport,
  type LeaveOneOutPositions,
  type SplitUsersOptions,
  type UserSplit,
  type DatasetDescription,
  type ResolvedSequenceDatasetOptions,
  type SequenceDatasetOptions,
  type SyntheticLog,
  type SyntheticOptions,
  type SyntheticTruth,
} from './data/index.js';

// Item features (docs/models/features.md)
export {
  ItemFeatures,
  itemFeatureIndex,
  parseFeatureJson,
  parseMoviesDat,
  readItemFeatures,
  type ItemFeatureIndex,
  type ItemFeaturesJSON,
  type RawItemFeatures,
} from './data/item-features.js';
export type { ItemFeatureStrategy } from './models/config.js';

// Models
export {
  BaseRecaller,
  ModelBaseConfigSchema,
  type SequentialRecaller,
  type ModelBaseConfig,
  type ModelBaseOptions,
  type UserEmbeddingOptions,
  type BatchTensors,
  type TrainingTargets,
} from './models/base.js';
export { GRU4Rec, DEFAULT_GRU4REC_CONFIG, GRU4RecConfigSchema, type GRU4RecConfig, type GRU4RecOptions } from './models/gru4rec.js';
export { YouTubeDNN, DEFAULT_YOUTUBE_DNN_CONFIG, YouTubeDNNConfigSchema, type YouTubeDNNConfig, type YouTubeDNNOptions } from './models/youtube-dnn.js';
export { MultiInterestRecaller, MultiInterestConfigSchema, type MultiInterestConfig, type InterestOutput } from './models/multi-interest.js';
export { MIND, DEFAULT_MIND_CONFIG, MINDConfigSchema, type MINDConfig, type MINDOptions } from './models/mind.js';
export { ComiRecDR, DEFAULT_COMIREC_DR_CONFIG, ComiRecDRConfigSchema, type ComiRecDRConfig, type ComiRecDROptions } from './models/comirec-dr.js';
export {
  SASRec,
  DEFAULT_SASREC_CONFIG,
  SASRecConfigSchema,
  sequenceTargets,
  type SASRecConfig,
  type SASRecOptions,
  type SequenceTargets,
} from './models/sasrec.js';
export { ComiRecSA, DEFAULT_COMIREC_SA_CONFIG, ComiRecSAConfigSchema, type ComiRecSAConfig, type ComiRecSAOptions } from './models/comirec-sa.js';
export { ItemKNN, ItemKNNConfigSchema, type ItemKNNConfig, type ItemKNNOptions, type ItemKNNState } from './models/knn/item-knn.js';
export { SessionKNN, SessionKNNConfigSchema, type SessionKNNConfig, type SessionKNNOptions, type SessionKNNState } from './models/knn/session-knn.js';
export { isItemRanker, type ItemRanker, type RankedItems, type NeighbourhoodSource } from './models/knn/ranker.js';
export { squash, dynamicRouting, couplingCoefficients, type RoutingInput, type RoutingOptions, type RoutingOutput } from './models/layers/capsule.js';
export { labelAwareAttention, interestSimilarity, type ReadoutMode, type ReadoutOptions } from './models/layers/attention.js';
export {
  MODELS,
  createModel,
  buildModel,
  registerModel,
  modelFactory,
  modelNames,
  isRegisteredModel,
  type ModelName,
  type BuiltinModelName,
  type ModelConfigs,
  type ModelDefinition,
  type ModelCapabilities,
  type RegisteredModel,
} from './models/registry.js';

// Losses
export { LOSSES, softmaxCrossEntropy, resolveLoss, type LossName, type LossFunction, type LossInput } from './losses/index.js';
export {
  LOSS_NAMES,
  createLoss,
  lossFromSettings,
  isContextualLoss,
  sampledSoftmax,
  inBatchSoftmax,
  bpr,
  top1,
  bprMax,
  top1Max,
  comirecSampledSoftmax,
  uniformSampler,
  popularitySampler,
  logUniformSampler,
  inBatchSampler,
  mixedSampler,
  type ContextualLoss,
  type LossContext,
  type LossOptions,
  type NegativeOptions,
  type LogQOption,
  type LogQForm,
  type NegativeSampler,
  type SamplerSpec,
  type SampledSoftmaxOptions,
  type InBatchOptions,
  type MaxLossOptions,
  type ComiRecLossOptions,
} from './losses/index.js';

// Retrieval
export {
  topK,
  mergeInterestCandidates,
  mergeInterestCandidatesBatch,
  ExactRetriever,
  controllableAggregate,
  controllableAggregateBatch,
  categoryDiversity,
  FaissRetriever,
  faissAvailable,
  PgvectorRetriever,
  writeItemTable,
  itemTableName,
  isAsyncRetriever,
  type AsyncRetriever,
  type PgvectorOpenOptions,
  type PgvectorConnectOptions,
  type PgvectorIndexOptions,
  type ItemTableInfo,
  type WriteItemTableOptions,
  type WriteItemTableResult,
  type SearchOptions,
  type SearchResult,
  type Retriever,
  type ExcludeList,
  type TopKResult,
  type TopKOptions,
  type ExactRetrieverOptions,
  type CategoryMap,
  type ControllableOptions,
  type FaissRetrieverOptions,
  type FaissLoadOptions,
} from './retrieval/index.js';

// Metrics, as a namespace: metrics.recall, metrics.ndcg, ...
import * as metrics from './metrics/index.js';
export { metrics };
export type { MetricReport, MetricKey } from './metrics/index.js';

// Training and evaluation
export { Trainer, type TrainerOptions, type FitResult, type EpochRecord, type TrainerCallbacks } from './train/trainer.js';
export { evaluateModel, evaluatePopularity, popularityRanking, type EvaluationOptions } from './train/evaluate.js';
export { evaluateSegments, DEFAULT_SEGMENT_EDGES, type SegmentReport } from './train/segments.js';
export { warmStart, type NewRowInit, type WarmStartReport } from './train/warm-start.js';
export { addItemsWithFeatures, type FeatureOnlyItem, type ExtendedModel } from './train/feature-items.js';
export { saveModel, loadModel, type LoadedModel, type SaveOptions } from './bundle/checkpoint.js';
export { readOptimizerState, type OptimizerState, type WeightMoments } from './bundle/optimizer-state.js';
export type { OptimizerRestore } from './train/optimizer-state.js';
export { SessionSet, loadSessions, sessionParallelSteps, type SessionStep } from './data/session-parallel.js';
export {
  trainSessionParallel,
  evaluateSessionParallel,
  evaluateSessionsRanked,
  type SessionTrainOptions,
  type SessionTrainResult,
  type SessionEpochRecord,
  type SessionEvaluationOptions,
  type SessionMetrics,
  type TieMode,
} from './train/session-parallel.js';

// Errors
export { SeqrecError, type SeqrecErrorCode, type SeqrecErrorDetails } from './errors.js';
