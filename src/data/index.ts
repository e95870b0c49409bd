/**
 * The data layer: loading interaction files, vocabularies, filtering, splits, batching and
 * the embedded synthetic dataset.
 */
export type { EvalBatch, InteractionLog, LoadStats, SequenceBatch, TrainBatch, UserSequence } from './types.js';
export { Random } from '../util/random.js';
export { detectFormat, loadInteractions, type ColumnOptions, type DataFormat, type LoadOptions } from './loaders.js';
export { DATA_FORMAT_INFO, DATA_FORMATS, TAOBAO_BEHAVIORS, type DataFormatInfo, type TaobaoBehavior } from './formats/index.js';
export { windowBatch } from './windows.js';
export { MAX_ID_LENGTH } from './fields.js';
export { DEFAULT_MAX_SKIP_RATE } from './load-options.js';
export { categoryIndex, type CategoryIndex } from './categories.js';
export { ItemVocabulary, type VocabularyBuildOptions, type VocabularyJSON } from './vocabulary.js';
export { kCore, type KCoreOptions, type KCoreReport } from './filter.js';
export { historyCut, leaveOneOut, splitUsers, type LeaveOneOutPositions, type SplitUsersOptions, type UserSplit } from './split.js';
export { DATA_ENGINES, loadSequenceDataset, type DataEngine, type DatasetSourceOptions, type LoadDatasetOptions, type LoadedDataset } from './load-dataset.js';
export { SequenceDataset, type DatasetDescription, type ResolvedSequenceDatasetOptions, type SequenceDatasetOptions } from './dataset.js';
export { generateSynthetic, type SyntheticLog, type SyntheticOptions, type SyntheticTruth } from './synthetic.js';
