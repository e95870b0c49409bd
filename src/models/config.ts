/**
 * Model configs as zod 4 strict schemas: one per model, composed from the shared base fields
 * here and the multi-interest fields (multi-interest.ts). The defaults live in the schemas and
 * the config types are inferred from them, so a field cannot be documented, defaulted and
 * checked in three different places.
 *
 * Errors keep the wording of seqrec's hand-written checks ("GRU4Rec: numLayers must be an
 * integer >= 1, got 0", field `numLayers`); an unknown key is reported through
 * src/util/schema.ts with a "did you mean" hint.
 */
import { z } from 'zod';
import { MAX_WINDOW_LENGTH } from '../data/dataset-options.js';
import { SeqrecError } from '../errors.js';
import { fieldPath, schemaError } from '../util/schema.js';
import { assertModelFits, MAX_EMBEDDING_DIM } from './size.js';

type Input = { input?: unknown };

/** A number for which `ok` holds; any other value fails with "must be <want>, got <value>". */
export function numberWhere(want: string, ok: (v: number) => boolean = () => true) {
  const error = (iss: Input) => `must be ${want}, got ${String(iss.input)}`;
  // z.number() already refuses NaN and ±Infinity.
  return z.number({ error }).refine(ok, { error });
}

/** An integer in [lo, hi] (hi optional). */
export function integerIn(lo: number, hi?: number, want?: string) {
  const words = want ?? (hi === undefined ? `an integer >= ${lo}` : `an integer in [${lo}, ${hi}]`);
  return numberWhere(words, (v) => Number.isInteger(v) && v >= lo && (hi === undefined || v <= hi));
}

export function booleanField() {
  return z.boolean({ error: (iss: Input) => `must be a boolean, got ${String(iss.input)}` });
}

/** One of `values`, with the old "'a' or 'b'" wording. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const words = values.map((v) => `'${v}'`).join(values.length === 2 ? ' or ' : ', ');
  return z.enum(values, { error: (iss: Input) => `must be ${words}, got ${String(iss.input)}` });
}

/** Defaults every built-in model shares. */
export const DEFAULT_BASE_CONFIG = Object.freeze({ embeddingDim: 64, maxLen: 20, seed: 42 });

/** The fields every model has (compose with `.extend`). */
export const ModelBaseConfigSchema = z.strictObject({
  /** Number of item rows including padding row 0 (the vocabulary's `size`). Required. */
  itemCount: integerIn(2, undefined, 'an integer >= 2 (items + padding)'),
  /** Embedding dimension D shared by items and user vectors. Default 64. */
  embeddingDim: integerIn(1, MAX_EMBEDDING_DIM).default(DEFAULT_BASE_CONFIG.embeddingDim),
  /** History window length L the model is built for. Default 20. */
  maxLen: integerIn(1, MAX_WINDOW_LENGTH).default(DEFAULT_BASE_CONFIG.maxLen),
  /** Seed for weight initialisation and training-time randomness. Default 42. */
  seed: numberWhere('a finite number').default(DEFAULT_BASE_CONFIG.seed),
});

export type ModelBaseConfig = z.output<typeof ModelBaseConfigSchema>;

/** How a model uses item features (docs/models/features.md): not at all, or trained by one of the p-RNN strategies. */
export type ItemFeatureStrategy = 'none' | 'simultaneous' | 'interleaving';

/**
 * The item-feature fields of the models that take item features (GRU4Rec, SASRec). Both are
 * optional and left out of `getConfig()` when unset, so a model without features has exactly the
 * config (and the checkpoint) it had before features existed.
 */
export const ItemFeatureConfigFields = {
  /**
   * Item features as a second input (docs/models/features.md): 'none' (the default when unset),
   * 'simultaneous' (the id and feature parts are trained together on every batch) or
   * 'interleaving' (odd batches train the id part, even batches the feature part; the rest of
   * the network on every batch). With features, `featureCount` is required and the features
   * themselves are attached with `setItemFeatures` (checkpoints store them).
   */
  itemFeatures: oneOf(['none', 'simultaneous', 'interleaving']).optional(),
  /** Rows of the feature table (the `ItemFeatures.featureCount` the model is built for). Required with item features. */
  featureCount: integerIn(1).optional(),
};
export type ModelBaseOptions = z.input<typeof ModelBaseConfigSchema>;

/**
 * `options` parsed by a model's config `schema`, or an `invalid_config` SeqrecError:
 * "GRU4Rec config: unknown option 'hiddenDimm' (did you mean 'hiddenDim'?)" for an unknown
 * key (reported first: a typo is the likelier mistake), "GRU4Rec: dropout must be in [0, 1),
 * got 1" for a bad value; `field` names the key either way.
 */
export function parseModelConfig<S extends z.ZodType>(schema: S, options: unknown, model: string): z.output<S> {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  if (issue.code === 'unrecognized_keys' || issue.path.length === 0) throw schemaError(schema, issue, { where: `${model} config` });
  const field = fieldPath(issue.path);
  throw new SeqrecError('invalid_config', `${model}: ${field} ${issue.message}`, { field });
}

/** `parseModelConfig`, then the model's size against memory before any weight is allocated (src/models/size.ts). */
export function resolveModelConfig<C extends ModelBaseConfig>(schema: z.ZodType<C>, options: unknown, model: string): C {
  const config = parseModelConfig(schema, options, model);
  assertModelFits(config, model);
  return config;
}
