/**
 * JSON schemas of the HTTP API's bodies and answers, and one clear sentence per schema
 * violation (naming the field) for the 400 answers.
 */
import { MAX_ID_LENGTH } from '../data/fields.js';

export const ERROR_SCHEMA = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

export const SCORED_ITEMS = {
  type: 'array',
  items: { type: 'object', properties: { id: { type: 'string' }, score: { type: 'number' } }, required: ['id', 'score'] },
} as const;

export const RECOMMENDATION = {
  type: 'object',
  properties: {
    items: SCORED_ITEMS,
    unknown: { type: 'array', items: { type: 'string' } },
    fallback: { type: ['string', 'null'] },
    reason: { type: 'string' },
  },
  required: ['items', 'unknown', 'fallback'],
} as const;

/** Ids as JSON: strings (raw ids) or integers (converted with String). */
const ITEM_ID = { type: ['string', 'integer'], maxLength: MAX_ID_LENGTH } as const;

/** Longest bundle name accepted in POST /admin/reload. */
export const MAX_BUNDLE_NAME = 64;

export function schemas(limits: { maxK: number; maxHistory: number; maxBatch: number }) {
  const history = { type: 'array', maxItems: limits.maxHistory, items: ITEM_ID };
  const common = {
    k: { type: 'integer', minimum: 1, maximum: limits.maxK },
    excludeSeen: { type: 'boolean' },
    interests: { anyOf: [{ type: 'string', enum: ['merge'] }, { type: 'integer', minimum: 0 }] },
  };
  return {
    recommend: {
      type: 'object',
      additionalProperties: false,
      required: ['history'],
      properties: { history, ...common },
    },
    batch: {
      type: 'object',
      additionalProperties: false,
      required: ['histories'],
      properties: { histories: { type: 'array', maxItems: limits.maxBatch, items: history }, ...common },
    },
    similar: {
      type: 'object',
      additionalProperties: false,
      required: ['item'],
      properties: { item: ITEM_ID, k: common.k },
    },
    // A name from the configured allow-list, never a path.
    reload: {
      type: 'object',
      additionalProperties: false,
      properties: { bundle: { type: 'string', minLength: 1, maxLength: MAX_BUNDLE_NAME } },
    },
  };
}

export interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const TYPE_NAMES: Record<string, string> = {
  array: 'an array',
  object: 'a JSON object',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  null: 'null',
};

/** "body.history[3]" from ("body", "/history/3"). */
function fieldPath(dataVar: string, instancePath: string): string {
  let out = dataVar;
  for (const part of instancePath.split('/').slice(1)) out += /^\d+$/.test(part) ? `[${part}]` : `.${part}`;
  return out;
}

/** One clear sentence for the first schema violation, naming the field. */
export function describeIssue(issue: ValidationIssue, dataVar: string): string {
  const at = fieldPath(dataVar, issue.instancePath);
  const p = issue.params;
  switch (issue.keyword) {
    case 'additionalProperties':
      return `${at} has an unknown field '${String(p.additionalProperty)}'`;
    case 'required':
      return `${at} is missing the required field '${String(p.missingProperty)}'`;
    case 'type':
      return `${at} must be ${String(p.type).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ')}`;
    case 'maxItems':
      return `${at} has too many entries (at most ${String(p.limit)})`;
    case 'maximum':
      return `${at} must be <= ${String(p.limit)}`;
    case 'minimum':
      return `${at} must be >= ${String(p.limit)}`;
    case 'maxLength':
      return `${at} is too long (at most ${String(p.limit)} characters)`;
    case 'minLength':
      return `${at} must not be empty`;
    case 'anyOf':
    case 'enum':
      return at.endsWith('.interests') ? `${at} must be "merge" or an interest index >= 0` : `${at} ${issue.message ?? 'is invalid'}`;
    default:
      return `${at} ${issue.message ?? 'is invalid'}`;
  }
}
