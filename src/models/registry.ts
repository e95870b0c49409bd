/**
 * Models by name: the one table the CLI, checkpoints, serving and benchmarks read. It is open:
 * `registerModel` adds a model of your own, which then saves, loads (`loadModel` rebuilds
 * models by the name in model.json) and serves like a built-in one. Shared code never
 * switches on a model's class or name; it reads the declared `capabilities`.
 *
 * Typing: `createModel(name, config)` checks the name and the config against `ModelConfigs`,
 * which maps each model name to its options type. Register a model of your own for the type
 * checker too by declaration merging:
 *
 * ```ts
 * declare module 'seqrec' {
 *   interface ModelConfigs { 'my-model': MyModelOptions }
 * }
 * ```
 *
 * Names read at run time (model.json, CLI flags, worker messages) go through `buildModel`,
 * which checks them against the registry instead.
 */
import type { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { didYouMean } from '../util/schema.js';
import type { BaseRecaller } from './base.js';
import { ComiRecDR, ComiRecDRConfigSchema, type ComiRecDROptions } from './comirec-dr.js';
import { ComiRecSA, ComiRecSAConfigSchema, type ComiRecSAOptions } from './comirec-sa.js';
import { parseModelConfig, type ModelBaseConfig } from './config.js';
import { GRU4Rec, GRU4RecConfigSchema, type GRU4RecOptions } from './gru4rec.js';
import { MIND, MINDConfigSchema, type MINDOptions } from './mind.js';
import { SASRec, SASRecConfigSchema, type SASRecOptions } from './sasrec.js';
import { YouTubeDNN, YouTubeDNNConfigSchema, type YouTubeDNNOptions } from './youtube-dnn.js';

/** What a model declares about itself; shared code branches on these, never on names. */
export interface ModelCapabilities {
  /** Returns K > 1 interests and takes `numInterests` (`--interests`) and `diversityWeight`. */
  multiInterest: boolean;
  /** Extracts interests by dynamic routing and takes `routingIterations` and `sharpenPower`. */
  routing: boolean;
}

/** Model name -> the options `createModel` accepts. Extend it by declaration merging (see the module comment). */
export interface ModelConfigs {
  gru4rec: GRU4RecOptions;
  youtubednn: YouTubeDNNOptions;
  mind: MINDOptions;
  'comirec-dr': ComiRecDROptions;
  'comirec-sa': ComiRecSAOptions;
  sasrec: SASRecOptions;
}

/** A model name the type checker knows: the built-in ones and any merged into `ModelConfigs`. */
export type ModelName = keyof ModelConfigs & string;

/** What `registerModel` takes. `Options` is what callers pass, `Config` what the schema resolves it to. */
export interface ModelDefinition<Options = unknown, Config extends ModelBaseConfig = ModelBaseConfig> {
  /** One line for `--help` and docs. */
  description: string;
  /** Omitted capabilities are false. */
  capabilities?: Partial<ModelCapabilities>;
  /**
   * A strict zod schema of the config (unknown keys rejected) with the defaults in it. Must
   * accept what the model's `getConfig()` returns, which is what a checkpoint stores.
   */
  configSchema: z.ZodType<Config, Options>;
  /** Builds the model from the parsed config. */
  create(config: Config): BaseRecaller;
}

/** A registry entry, as shared code reads it. */
export interface RegisteredModel {
  readonly name: string;
  readonly description: string;
  readonly capabilities: Readonly<ModelCapabilities>;
  /** Shorthand for `capabilities.multiInterest`. */
  readonly multiInterest: boolean;
  readonly configSchema: z.ZodType<ModelBaseConfig>;
  /** Parses `config` with `configSchema` (an `invalid_config` error names the bad field), then builds the model. */
  create(config: unknown): BaseRecaller;
}

const registry = new Map<string, RegisteredModel>();

function entry<O, C extends ModelBaseConfig>(name: string, definition: ModelDefinition<O, C>): RegisteredModel {
  const capabilities = Object.freeze({ multiInterest: false, routing: false, ...definition.capabilities });
  const schema = definition.configSchema;
  return Object.freeze({
    name,
    description: definition.description,
    capabilities,
    multiInterest: capabilities.multiInterest,
    configSchema: schema,
    create: (config: unknown) => definition.create(parseModelConfig(schema, config, `${name}`)),
  });
}

/**
 * Adds a model to the registry. Its name is what the model's `name` property returns and what
 * checkpoints record; a name already registered is an error.
 */
export function registerModel<O, C extends ModelBaseConfig>(name: string, definition: ModelDefinition<O, C>): RegisteredModel {
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) {
    throw new SeqrecError('invalid_argument', `registerModel: name must be 1-64 lowercase letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`, {
      field: 'name',
    });
  }
  if (registry.has(name)) throw new SeqrecError('invalid_argument', `registerModel: a model named '${name}' is already registered`, { field: 'name' });
  const registered = entry(name, definition);
  registry.set(name, registered);
  return registered;
}

/** The built-in models (also in the registry). */
export const MODELS = {
  gru4rec: registerModel('gru4rec', {
    description: 'GRU over the history; user vector = hidden state at the last real item (Hidasi et al. 2016)',
    configSchema: GRU4RecConfigSchema,
    create: (config) => new GRU4Rec(config),
  }),
  youtubednn: registerModel('youtubednn', {
    description: 'Masked mean of the history embeddings -> dense D->D (YouTube DNN / ComiRec "DNN" baseline)',
    configSchema: YouTubeDNNConfigSchema,
    create: (config) => new YouTubeDNN(config),
  }),
  mind: registerModel('mind', {
    description: 'K interests by dynamic routing with one shared bilinear map and random logits, ReLU layer (Li et al. 2019)',
    capabilities: { multiInterest: true, routing: true },
    configSchema: MINDConfigSchema,
    create: (config) => new MIND(config),
  }),
  'comirec-dr': registerModel('comirec-dr', {
    description: 'K interests by dynamic routing with per-position, per-interest bilinear maps (Cen et al. 2020)',
    capabilities: { multiInterest: true, routing: true },
    configSchema: ComiRecDRConfigSchema,
    create: (config) => new ComiRecDR(config),
  }),
  'comirec-sa': registerModel('comirec-sa', {
    description: 'K interests by self-attention over the history with position embeddings (Cen et al. 2020)',
    capabilities: { multiInterest: true },
    configSchema: ComiRecSAConfigSchema,
    create: (config) => new ComiRecSA(config),
  }),
  sasrec: registerModel('sasrec', {
    description: 'Causal self-attention blocks over the history; user vector = output at the last real item, trained at every position (Kang & McAuley 2018)',
    configSchema: SASRecConfigSchema,
    create: (config) => new SASRec(config),
  }),
};

/** SASRec's registry entry (kept as a name of its own; the same object as `MODELS.sasrec`). */
export const SASREC = MODELS.sasrec;

/** The names of the built-in models. */
export type BuiltinModelName = keyof typeof MODELS;

/** Every registered name, built-in ones first, in registration order. */
export function modelNames(): string[] {
  return [...registry.keys()];
}

/** The registry entry of `name`, or an `invalid_config` error listing the registered names. */
export function modelFactory(name: string): RegisteredModel {
  const found = typeof name === 'string' ? registry.get(name) : undefined;
  if (!found) {
    const names = modelNames();
    throw new SeqrecError('invalid_config', `Unknown model '${String(name)}'${didYouMean(String(name), names)}. Should be one of: ${names.join(', ')}.`, {
      field: 'model',
    });
  }
  return found;
}

/** Whether `name` is registered. */
export function isRegisteredModel(name: string): boolean {
  return registry.has(name);
}

/**
 * Builds a model by name. Both are checked by the type checker: `createModel('gru4rec',
 * { itemCount: 10, hiddenDimm: 8 })` and `createModel('gru4rc', ...)` do not compile; at run
 * time an unknown key is an `invalid_config` error with a "did you mean" hint.
 */
export function createModel<N extends ModelName>(name: N, config: ModelConfigs[N]): BaseRecaller {
  return modelFactory(name).create(config);
}

/** Builds a model from a name and config known only at run time (model.json, flags, messages), checked against the registry. */
export function buildModel(name: string, config: unknown): BaseRecaller {
  return modelFactory(name).create(config);
}
