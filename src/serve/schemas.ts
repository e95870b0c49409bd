/**
 * The HTTP API's bodies as zod schemas, the one source of (a) request validation, (b) the
 * JSON schemas fastify is given (generated with `z.toJSONSchema`: route documentation and
 * fast-json-stringify serialisation of answers) and (c) the answer types. A violation is
 * reported as one sentence naming the field ("body.k must be <= 100"), unknown fields with a
 * did-you-mean hint.
 */
import { z } from 'zod';
import { MAX_ID_LENGTH } from '../data/fields.js';
import { didYouMean, fieldPath, keysAt } from '../util/schema.js';
import type { Recommendation, ScoredItem } from './recommender-types.js';

/** Longest bundle name accepted in POST /admin/reload. */
export const MAX_BUNDLE_NAME = 64;

/** Ids as JSON: strings (raw ids) or integers (converted with String). */
const itemId = z.union([z.string().max(MAX_ID_LENGTH), z.int()]);

export const errorBodySchema = z.object({
  /** Machine-readable kind: invalid_json, invalid_request, unknown_item, not_found, payload_too_large, ... */
  error: z.string(),
  /** What is wrong, naming the field. */
  message: z.string(),
});
/** The error body of every non-2xx answer. */
export type ErrorBody = z.output<typeof errorBodySchema>;

const scoredItems = z.array(z.object({ id: z.string(), score: z.number() }));

export const recommendationSchema = z.object({
  items: scoredItems,
  unknown: z.array(z.string()),
  fallback: z.enum(['popularity', 'recent-popularity', 'cooccurrence']).nullable(),
  reason: z.string().optional(),
});
export const batchAnswerSchema = z.object({ results: z.array(recommendationSchema) });
export const similarAnswerSchema = z.object({ item: z.string(), items: scoredItems });

export type RecommendAnswer = z.output<typeof recommendationSchema>;
export type BatchAnswer = z.output<typeof batchAnswerSchema>;
export type SimilarAnswer = z.output<typeof similarAnswerSchema>;

// The answers are the Recommender's own types: a change to either side fails to compile here.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameShapes: [Same<RecommendAnswer, Recommendation>, Same<SimilarAnswer['items'][number], ScoredItem>] = [true, true];
void sameShapes;

/** The request bodies under the recommender's limits. */
export function requestSchemas(limits: { maxK: number; maxHistory: number; maxBatch: number }) {
  const history = z.array(itemId).max(limits.maxHistory);
  const common = {
    k: z.int().min(1).max(limits.maxK).optional(),
    excludeSeen: z.boolean().optional(),
    interests: z.union([z.literal('merge'), z.int().min(0)], { error: 'must be "merge" or an interest index >= 0' }).optional(),
  };
  return {
    recommend: z.strictObject({ history, ...common }),
    batch: z.strictObject({ histories: z.array(history).max(limits.maxBatch), ...common }),
    similar: z.strictObject({ item: itemId, k: common.k }),
    // A name from the configured allow-list, never a path.
    reload: z.strictObject({ bundle: z.string().min(1).max(MAX_BUNDLE_NAME).optional() }),
  };
}
export type RequestSchemas = ReturnType<typeof requestSchemas>;
export type RecommendBody = z.output<RequestSchemas['recommend']>;
export type BatchBody = z.output<RequestSchemas['batch']>;
export type SimilarBody = z.output<RequestSchemas['similar']>;
export type ReloadBody = z.output<RequestSchemas['reload']>;

/** `schema` as a draft-07 JSON schema for fastify (its ajv and fast-json-stringify read draft-07). */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { target: 'draft-7' }) as Record<string, unknown>;
  return rest;
}

// Every number in the bodies is an integer, so zod's "expected number" means an integer here.
const TYPE_NAMES: Record<string, string> = {
  array: 'an array',
  object: 'a JSON object',
  string: 'a string',
  int: 'an integer',
  number: 'an integer',
  boolean: 'a boolean',
  null: 'null',
};
const ZOD_DEFAULT_UNION_MESSAGE = 'Invalid input';

function valueAt(data: unknown, path: readonly PropertyKey[]): { parent: unknown; present: boolean } {
  let parent: unknown = undefined;
  let node: unknown = data;
  for (const p of path) {
    parent = node;
    node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[p] : undefined;
  }
  return { parent, present: path.length === 0 || (parent !== null && typeof parent === 'object' && Object.hasOwn(parent, path[path.length - 1])) };
}

/**
 * One sentence for the first violation of `schema` by `data`, naming the field under
 * `dataVar` ("body.history[3] must be a string or an integer").
 */
export function describeIssue(schema: z.ZodType, issue: z.core.$ZodIssue, data: unknown, dataVar = 'body'): string {
  const at = (path: readonly PropertyKey[]) => (path.length ? `${dataVar}${typeof path[0] === 'number' ? '' : '.'}${fieldPath(path)}` : dataVar);
  const here = at(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0];
      return `${here} has an unknown field '${key}'${didYouMean(key, keysAt(schema, issue.path))}`;
    }
    case 'invalid_type': {
      const { present } = valueAt(data, issue.path);
      if (!present) return `${at(issue.path.slice(0, -1))} is missing the required field '${String(issue.path[issue.path.length - 1])}'`;
      return `${here} must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    }
    case 'too_big':
      if (issue.origin === 'array') return `${here} has too many entries (at most ${String(issue.maximum)})`;
      if (issue.origin === 'string') return `${here} is too long (at most ${String(issue.maximum)} characters)`;
      return `${here} must be <= ${String(issue.maximum)}`;
    case 'too_small':
      if (issue.origin === 'string') return `${here} must not be empty`;
      return `${here} must be >= ${String(issue.minimum)}`;
    case 'invalid_union': {
      if (issue.message !== ZOD_DEFAULT_UNION_MESSAGE) return `${here} ${issue.message}`;
      // A branch that got past the type check explains best ("is too long"); else list the types.
      const specific = issue.errors.flat().find((e) => e.code !== 'invalid_type');
      if (specific) return describeIssue(schema, { ...specific, path: [...issue.path, ...specific.path] } as z.core.$ZodIssue, data, dataVar);
      const types = [...new Set(issue.errors.flat().map((e) => (e.code === 'invalid_type' ? (TYPE_NAMES[e.expected] ?? e.expected) : '')))].filter(Boolean);
      return `${here} must be ${types.join(' or ')}`;
    }
    default:
      return `${here} is invalid (${issue.message})`;
  }
}
