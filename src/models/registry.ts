/**
 * Models by name: the single table the CLI, checkpoints and benchmarks read. Adding a model
 * means adding a row here; shared code never switches on a model's class.
 */
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from './base.js';
import { ComiRecDR, type ComiRecDROptions } from './comirec-dr.js';
import { ComiRecSA, type ComiRecSAOptions } from './comirec-sa.js';
import { GRU4Rec, type GRU4RecOptions } from './gru4rec.js';
import { MIND, type MINDOptions } from './mind.js';
import { YouTubeDNN, type YouTubeDNNOptions } from './youtube-dnn.js';

export interface ModelFactory {
  /** One line for `--help` and docs. */
  description: string;
  /** Whether the model returns K > 1 interests and takes `numInterests` (`--interests`). */
  multiInterest?: boolean;
  create(config: { itemCount: number } & Record<string, unknown>): BaseRecaller;
}

export const MODELS = {
  gru4rec: {
    description: 'GRU over the history; user vector = hidden state at the last real item (Hidasi et al. 2016)',
    create: (config) => new GRU4Rec(config as GRU4RecOptions),
  },
  youtubednn: {
    description: 'Masked mean of the history embeddings -> dense D->D (YouTube DNN / ComiRec "DNN" baseline)',
    create: (config) => new YouTubeDNN(config as YouTubeDNNOptions),
  },
  mind: {
    multiInterest: true,
    description: 'K interests by dynamic routing with one shared bilinear map and random logits, ReLU layer (Li et al. 2019)',
    create: (config) => new MIND(config as MINDOptions),
  },
  'comirec-dr': {
    multiInterest: true,
    description: 'K interests by dynamic routing with per-position, per-interest bilinear maps (Cen et al. 2020)',
    create: (config) => new ComiRecDR(config as ComiRecDROptions),
  },
  'comirec-sa': {
    multiInterest: true,
    description: 'K interests by self-attention over the history with position embeddings (Cen et al. 2020)',
    create: (config) => new ComiRecSA(config as ComiRecSAOptions),
  },
} as const satisfies Record<string, ModelFactory>;

export type ModelName = keyof typeof MODELS;

export function modelFactory(name: string): ModelFactory {
  // Own keys only: 'constructor' or '__proto__' from a model.json must not reach Object.prototype.
  const factory = Object.hasOwn(MODELS, name) ? (MODELS as Record<string, ModelFactory>)[name] : undefined;
  if (!factory) {
    throw new SeqrecError('invalid_config', `Unknown model '${name}'. Should be one of: ${Object.keys(MODELS).join(', ')}.`, { field: 'model' });
  }
  return factory;
}

export function createModel(name: string, config: { itemCount: number } & Record<string, unknown>): BaseRecaller {
  return modelFactory(name).create(config);
}
