/**
 * Models by name: the single table the CLI, checkpoints and benchmarks read. Adding a model
 * means adding a row here; shared code never switches on a model's class.
 */
import { SeqrecError } from '../errors.js';
import type { BaseRecaller } from './base.js';
import { GRU4Rec, type GRU4RecOptions } from './gru4rec.js';

export interface ModelFactory {
  /** One line for `--help` and docs. */
  description: string;
  create(config: { itemCount: number } & Record<string, unknown>): BaseRecaller;
}

export const MODELS = {
  gru4rec: {
    description: 'GRU over the history; user vector = hidden state at the last real item (Hidasi et al. 2016)',
    create: (config) => new GRU4Rec(config as GRU4RecOptions),
  },
} as const satisfies Record<string, ModelFactory>;

export type ModelName = keyof typeof MODELS;

export function modelFactory(name: string): ModelFactory {
  const factory = (MODELS as Record<string, ModelFactory>)[name];
  if (!factory) {
    throw new SeqrecError('invalid_config', `Unknown model '${name}'. Should be one of: ${Object.keys(MODELS).join(', ')}.`, { field: 'model' });
  }
  return factory;
}

export function createModel(name: string, config: { itemCount: number } & Record<string, unknown>): BaseRecaller {
  return modelFactory(name).create(config);
}
