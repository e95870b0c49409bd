/** The checks of `Recommender`'s options and arguments, shared by `load`, `fromModel` and the calls. */
import { SeqrecError } from '../errors.js';
import { parseConnectOptions } from '../retrieval/pgvector/options.js';
import type { Limits, RecommenderOptions } from './recommender-types.js';
import { parseWith } from '../util/schema.js';
import { FallbackOptionsSchema } from './fallbacks.js';

export const DEFAULTS = { maxK: 1000, maxHistory: 1000, maxBatch: 256, reloadTimeoutMs: 30_000 } as const;

export function invalidArg(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_argument', message, { field });
}

export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

export function limitOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidArg(name, `Recommender: ${name} must be an integer >= 1, got ${String(value)}`);
  }
  return value;
}

/** The limits of `options`, after checking every option shared by `load` and `fromModel`. */
export function checkOptions(options: RecommenderOptions, where: string): Limits {
  if (options === null || typeof options !== 'object') throw invalidArg('options', `${where}: options must be an object`);
  const limits: Limits = {
    maxK: limitOption(options.maxK, 'maxK', DEFAULTS.maxK),
    maxHistory: limitOption(options.maxHistory, 'maxHistory', DEFAULTS.maxHistory),
    maxBatch: limitOption(options.maxBatch, 'maxBatch', DEFAULTS.maxBatch),
  };
  limitOption(options.reloadTimeoutMs, 'reloadTimeoutMs', DEFAULTS.reloadTimeoutMs);
  const retriever = options.retriever ?? 'auto';
  if (!['auto', 'exact', 'faiss', 'pgvector'].includes(retriever))
    throw invalidArg('retriever', `Recommender: retriever must be 'auto', 'exact', 'faiss' or 'pgvector', got ${String(retriever)}`);
  if (retriever === 'pgvector') {
    if (options.pgvector === undefined) {
      throw new SeqrecError('invalid_config', `${where}: retriever 'pgvector' needs the pgvector option: { connectionString: 'postgres://...' }`, {
        field: 'pgvector',
      });
    }
    parseConnectOptions(options.pgvector, `${where}: pgvector`);
  } else if (options.pgvector !== undefined) {
    throw new SeqrecError('invalid_config', `${where}: the pgvector option is only used with retriever 'pgvector' (retriever is '${retriever}')`, {
      field: 'pgvector',
    });
  }
  // Checked before any file is read; what the bundle must have for them is checked at load.
  parseWith(FallbackOptionsSchema, options.fallback ?? {}, { where: `${where}: fallback`, prefix: 'fallback' });
  const metric = options.similarItemsMetric ?? 'cosine';
  if (metric !== 'cosine' && metric !== 'ip')
    throw invalidArg('similarItemsMetric', `Recommender: similarItemsMetric must be 'cosine' or 'ip', got ${String(metric)}`);
  return limits;
}

/** `k` as an integer in 1..maxK, else `invalid_argument` naming `field`. */
export function checkK(k: unknown, maxK: number, field = 'k'): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > maxK) {
    throw invalidArg(field, `${field} must be an integer in 1..${maxK}, got ${typeof k === 'number' ? k : typeOf(k)}`);
  }
  return k;
}
