/**
 * The zod rules of the data layer's options, and how their errors are reported: an unknown
 * key is always `invalid_config` (with a did-you-mean hint), a bad value keeps the code its
 * function has always used.
 */
import { z } from 'zod';
import type { SeqrecErrorCode } from '../errors.js';
import { schemaError } from '../util/schema.js';

/** A value as a message quotes it. */
export function shown(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? JSON.stringify(v) : String(v);
}

/** An integer >= `min` (at most `max` when given): the one count rule of the data layer. */
export function integer(min: number, max?: number) {
  const base = z.custom<number>((v) => typeof v === 'number' && Number.isInteger(v) && v >= min, {
    error: (iss) => `must be an integer >= ${min}, got ${shown(iss.input)}`,
  });
  return max === undefined ? base : base.refine((v) => v <= max, { error: (iss) => `must be at most ${max}, got ${shown(iss.input)}` });
}

/** A count: an integer >= 1. */
export const count = integer(1);

/** A finite number (seeds, thresholds). */
export const finite = z.custom<number>((v) => typeof v === 'number' && Number.isFinite(v), {
  error: (iss) => `must be a finite number, got ${shown(iss.input)}`,
});

/** A finite number in [lo, hi]. */
export function inRange(lo: number, hi: number) {
  return z.custom<number>((v) => typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi, {
    error: (iss) => `must be a number in [${lo}, ${hi}], got ${shown(iss.input)}`,
  });
}

/** One of `values`, quoted in the message. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: (iss) => `must be one of ${values.map((v) => `'${v}'`).join(', ')}, got ${shown(iss.input)}` });
}

/**
 * `value` parsed by a strict `schema` (`where` starts the message). Unknown keys are
 * `invalid_config`; a bad value is `valueCode`.
 */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, where: string, valueCode: SeqrecErrorCode): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw schemaError(schema, issue, { where, code: issue.code === 'unrecognized_keys' ? 'invalid_config' : valueCode });
}
