/**
 * seqrec public API. Only what is exported here is public.
 */

// Backend selection
export { initBackend, useBackend, backendReport, describeBackend, type BackendName, type BackendReport } from './backend/index.js';

// Data
export * from './data/index.js';

// Models
export { BaseRecaller, ModelBaseConfigSchema, type SequentialRecaller, type ModelBaseConfig, type ModelBaseOptions, type UserEmbeddingOptions, type BatchTensors } from './models/base.js';
export { GRU4Rec, DEFAULT_GRU4REC_CONFIG, GRU4RecConfigSchema, type GRU4RecConfig, type GRU4RecOptions } from './models/gru4rec.js';
export { YouTubeDNN, DEFAULT_YOUTUBE_DNN_CONFIG, YouTubeDNNConfigSchema, type YouTubeDNNConfig, type YouTubeDNNOptions } from './models/youtube-dnn.js';
export { MultiInterestRecaller, MultiInterestConfigSchema, type MultiInterestConfig, type InterestOutput } from './models/multi-interest.js';
export { MIND, DEFAULT_MIND_CONFIG, MINDConfigSchema, type MINDConfig, type MINDOptions } from './models/mind.js';
export { ComiRecDR, DEFAULT_COMIREC_DR_CONFIG, ComiRecDRConfigSchema, type ComiRecDRConfig, type ComiRecDROptions } from './models/comirec-dr.js';
export { ComiRecSA, DEFAULT_COMIREC_SA_CONFIG, ComiRecSAConfigSchema, type ComiRecSAConfig, type ComiRecSAOptions } from './models/comirec-sa.js';
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
  sampledSoftmaxFromScores,
  inBatchSoftmax,
  bpr,
  top1,
  bprMax,
  top1Max,
  bprFromScores,
  top1FromScores,
  bprMaxFromScores,
  top1MaxFromScores,
  comirecSampledSoftmax,
  buildCandidates,
  uniformSampler,
  popularitySampler,
  logUniformSampler,
  inBatchSampler,
  mixedSampler,
  sampleUnique,
  resolveSampler,
  AliasTable,
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
export * from './retrieval/index.js';

// Metrics, as a namespace: metrics.recall, metrics.ndcg, ...
import * as metrics from './metrics/index.js';
export { metrics };
export type { MetricReport, MetricKey } from './metrics/index.js';

// Training and evaluation
export { Trainer, type TrainerOptions, type FitResult, type EpochRecord, type TrainerCallbacks } from './train/trainer.js';
export { evaluateModel, evaluatePopularity, popularityRanking, type EvaluationOptions } from './train/evaluate.js';
export { saveModel, loadModel, type LoadedModel, type SaveOptions } from './bundle/checkpoint.js';
export { SessionSet, loadSessions, sessionParallelSteps, type SessionStep } from './data/session-parallel.js';
export {
  trainSessionParallel,
  evaluateSessionParallel,
  type SessionTrainOptions,
  type SessionTrainResult,
  type SessionEpochRecord,
  type SessionEvaluationOptions,
  type SessionMetrics,
  type TieMode,
} from './train/session-parallel.js';

// Serving
export {
  Recommender,
  type RecommenderOptions,
  type RecommendOptions,
  type Recommendation,
  type ScoredItem,
  type ItemId,
  type RecommenderInfo,
} from './serve/recommender.js';
export {
  exportBundle,
  loadBundle,
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  type ExportBundleOptions,
  type LoadedBundle,
  type BundleSection,
  type FaissIndexWriter,
} from './bundle/bundle.js';
export { createServer, SERVER_DEFAULTS, type ServerOptions, type AdminOptions, type SeqrecServerState, type ErrorBody } from './serve/server.js';

// Errors
export { SeqrecError, type SeqrecErrorCode, type SeqrecErrorDetails } from './errors.js';
