/**
 * The schema of model.json (zod 4, strict: unknown keys are errors), with a bound on every
 * number, so that a damaged or hostile manifest is refused with a `bundle_invalid` error
 * naming the field before TF.js sees a size (issue #14 item 9). The cross-checks that need
 * more than one field (contiguous offsets, the weights' total against weights.bin, config
 * sizes against the weights) live here too; the model's own variable shapes are compared
 * after it is built (src/bundle/checkpoint.ts).
 */
import { z } from 'zod';
import type { SeqrecError } from '../errors.js';
import { bundleInvalid, checkSchema } from './file-schema.js';
import { FileDigestSchema, FILE_NAME_RE } from './atomic-dir.js';
import { isRegisteredModel, MODELS, modelFactory } from '../models/registry.js';

export const CHECKPOINT_FORMAT = 'seqrec-model';
export const CHECKPOINT_VERSION = 1;
/** model.json's format in a neighbourhood-model bundle (src/bundle/ranker-bundle.ts). */
export const RANKER_FORMAT = 'seqrec-ranker';

/** Largest weights.bin, in float32 values (8 GiB): far above any model seqrec trains, below what breaks typed arrays. */
export const MAX_WEIGHT_VALUES = 2 ** 31;
const MAX_DIM = 2 ** 27;

const int = (lo: number, hi: number) => z.number().int().min(lo).max(hi);
const real = (lo: number, hi: number) => z.number().min(lo).max(hi);

/**
 * Every config field of every built-in model, bounded. A new built-in field needs a line here; a
 * model added with `registerModel` is checked by its own strict schema, with the base bounds.
 */
const ConfigSchema = z.strictObject({
  itemCount: int(2, 2 ** 26),
  embeddingDim: int(1, 8192),
  maxLen: int(1, 10_000),
  seed: real(-(2 ** 53), 2 ** 53),
  // GRU4Rec
  hiddenDim: int(1, 8192).optional(),
  numLayers: int(1, 16).optional(),
  dropout: real(0, 1).optional(),
  hiddenDropout: real(0, 1).optional(),
  recurrence: z.enum(['fused', 'ops']).optional(),
  outputBias: z.boolean().optional(),
  // multi-interest models
  numInterests: int(1, 256).optional(),
  readout: z.enum(['soft', 'hard']).optional(),
  readoutPower: real(0, 1000).optional(),
  diversityWeight: real(-1e6, 1e6).optional(),
  routingIterations: int(1, 100).optional(),
  sharpenPower: real(0, 1000).optional(),
  reluLayer: z.boolean().optional(),
  // MIND
  logitStd: real(0, 1000).optional(),
  logitInit: z.enum(['truncated', 'normal']).optional(),
  inferenceSeed: real(-(2 ** 53), 2 ** 53).optional(),
  bilinearBias: z.boolean().optional(),
  dynamicInterests: z.boolean().optional(),
  // ComiRec-DR / -SA
  bilinearInitStd: real(0, 1000).optional(),
  attentionDim: int(1, 65_536).optional(),
  positionEmbeddings: z.boolean().optional(),
  valuesWithPositions: z.boolean().optional(),
  // SASRec
  numBlocks: int(1, 64).optional(),
  numHeads: int(1, 8192).optional(),
  scaleEmbeddings: z.boolean().optional(),
  positionOrigin: z.enum(['end', 'start']).optional(),
  separateOutput: z.boolean().optional(),
  // item features (GRU4Rec, SASRec; docs/models/features.md)
  itemFeatures: z.enum(['none', 'simultaneous', 'interleaving']).optional(),
  featureCount: int(1, 2 ** 26).optional(),
  featureArchitecture: z.enum(['shared', 'parallel']).optional(),
});

const WeightSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_/.-]{0,199}$/, 'expected a weight name like gru/kernel'),
  shape: z.array(int(1, MAX_DIM)).max(8),
  /** Offset in float32 elements. */
  offset: int(0, MAX_WEIGHT_VALUES),
});

/** A plain JSON object (meta and the bundle section are checked where they are read). */
const JsonObject = z.custom<Record<string, unknown>>((v) => v !== null && typeof v === 'object' && !Array.isArray(v), 'expected an object');

const FileName = z.string().regex(FILE_NAME_RE, 'expected a plain file name inside the bundle (no "/", "..", or leading dot)');

export const ManifestSchema = z.strictObject({
  format: z.literal(CHECKPOINT_FORMAT),
  version: z.literal(CHECKPOINT_VERSION),
  model: z.string().min(1).max(64),
  /** Checked in parseManifest: by ConfigSchema for a built-in model, else by the registered model's schema. */
  config: JsonObject,
  weights: z.array(WeightSchema).min(1).max(10_000),
  /** Free-form facts about the run (metrics, dataset), for people reading the file. */
  meta: JsonObject.optional(),
  /** Size and SHA-256 of every data file. Required: without it nothing would be checked. */
  files: z.record(FileName, FileDigestSchema),
  /** Serving-bundle section (src/bundle/bundle.ts checks it); absent in plain checkpoints. */
  bundle: JsonObject.optional(),
});

export type ModelManifest = Omit<z.infer<typeof ManifestSchema>, 'config'> & { config: ModelConfig };
export type ModelConfig = z.infer<typeof ConfigSchema>;
export type WeightEntry = z.infer<typeof WeightSchema>;

const invalid = (why: string, field?: string): SeqrecError => bundleInvalid('model.json', why, field);

/** Parses model.json's text against the schema; throws naming the first bad field. */
export function parseManifest(text: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalid(`not valid JSON (${(err as Error).message.replace(/"[^"]*"/g, '…')})`);
  }
  const m = json as { format?: unknown; version?: unknown } | null;
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw invalid('expected a JSON object');
  // Friendlier words for the two fields that say "not this format" rather than "damaged".
  if (m.format === RANKER_FORMAT) {
    throw invalid(
      `this is a neighbourhood-model bundle (format '${RANKER_FORMAT}': ItemKNN or SessionKNN, no weights and no embeddings); Recommender.load and seqrec serve read it`,
      'format',
    );
  }
  if (m.format !== CHECKPOINT_FORMAT) throw invalid(`format is not '${CHECKPOINT_FORMAT}'`, 'format');
  if (m.version !== CHECKPOINT_VERSION) {
    throw invalid(`version ${typeof m.version === 'number' ? m.version : '?'} is not supported (this seqrec reads version ${CHECKPOINT_VERSION})`, 'version');
  }
  const parsed = checkSchema(ManifestSchema, json, 'model.json');
  return { ...parsed, config: checkConfig(parsed.model, parsed.config) };
}

/** The base sizes every model has, bounded as the built-in ones (a custom model's own fields are its schema's). */
const BaseBoundsSchema = ConfigSchema.pick({ itemCount: true, embeddingDim: true, maxLen: true, seed: true });

function checkConfig(model: string, config: Record<string, unknown>): ModelConfig {
  // Wrapped as { config } so errors read as the whole manifest's ("... in config", field config.x).
  const check = <T>(schema: z.ZodType<T>, value: unknown): T => checkSchema(z.strictObject({ config: schema }), { config: value }, 'model.json').config;
  if (Object.hasOwn(MODELS, model)) return check(ConfigSchema, config);
  if (!isRegisteredModel(model))
    throw invalid(`model: unknown model '${model}' (a custom model must be registered with registerModel before loading)`, 'model');
  const { itemCount, embeddingDim, maxLen, seed } = config;
  check(BaseBoundsSchema, { itemCount, embeddingDim, maxLen, seed });
  return check(modelFactory(model).configSchema, config) as ModelConfig;
}

const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Checks that need several fields: contiguous offsets from 0 in order, the total against
 * weights.bin's recorded size, and config sizes that the weights can actually hold (so an
 * embeddingDim of 6,400,000 is refused here, not by a failed allocation in TF.js).
 * Returns the number of float32 values in weights.bin.
 */
export function checkManifestSizes(m: ModelManifest): number {
  let next = 0;
  m.weights.forEach((w, i) => {
    if (w.offset !== next)
      throw invalid(`weights[${i}].offset is ${w.offset}, expected ${next} (weights are stored contiguously, in order)`, `weights[${i}].offset`);
    next += product(w.shape);
    if (next > MAX_WEIGHT_VALUES) throw invalid(`weights[${i}].shape makes the weights larger than ${MAX_WEIGHT_VALUES} values`, `weights[${i}].shape`);
  });
  const names = new Set<string>();
  m.weights.forEach((w, i) => {
    if (names.has(w.name)) throw invalid(`weights[${i}].name '${w.name}' appears twice`, `weights[${i}].name`);
    names.add(w.name);
  });
  const recorded = m.files['weights.bin'];
  if (!recorded) throw invalid('files: no digest for weights.bin', 'files');
  if (recorded.bytes !== next * 4) {
    throw invalid(`the weights describe ${next} float32 values (${next * 4} bytes) but files["weights.bin"] records ${recorded.bytes} bytes`, 'weights');
  }
  const c = m.config;
  const d = c.embeddingDim;
  const fits = (field: string, values: number) => {
    if (values > next)
      throw invalid(`config.${field} is too large for the weights: it needs at least ${values} values, weights.bin holds ${next}`, `config.${field}`);
  };
  fits('embeddingDim', c.itemCount * d);
  // The other fields mean what they mean only for the built-in models.
  if (!Object.hasOwn(MODELS, m.model)) return next;
  if (c.hiddenDim !== undefined) fits('hiddenDim', c.hiddenDim * (d + c.hiddenDim * (c.numLayers ?? 1)));
  if (c.attentionDim !== undefined) fits('attentionDim', c.attentionDim * d);
  if (c.featureCount !== undefined && c.itemFeatures !== undefined && c.itemFeatures !== 'none') fits('featureCount', c.featureCount * d);
  if (m.model === 'comirec-dr') fits('maxLen', c.maxLen * d * d * (c.numInterests ?? 1));
  if (m.model === 'comirec-sa' && c.positionEmbeddings !== false) fits('maxLen', c.maxLen * d);
  if (m.model === 'comirec-dr') fits('numInterests', (c.numInterests ?? 1) * d * d);
  if (m.model === 'sasrec') {
    fits('maxLen', c.maxLen * d);
    // Per block: W_Q, W_K, W_V and the two FFN matrices, D x D each.
    fits('numBlocks', (c.numBlocks ?? 1) * 5 * d * d);
  }
  return next;
}
