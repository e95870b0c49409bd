/**
 * Checking the JSON files of a checkpoint or bundle against their zod schemas, with errors that
 * name the bundle-relative file and the first bad field (never an absolute path or the file's
 * content). Shared by the pointer (CURRENT), model.json, the bundle section and popularity.json.
 */
import type { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { fieldPath } from '../util/schema.js';

/** `bundle_invalid` naming `file` (bundle-relative) and, when known, the field. */
export function bundleInvalid(file: string, why: string, field?: string): SeqrecError {
  return new SeqrecError('bundle_invalid', `${file}: ${why}`, { file, field });
}


/**
 * `value` checked against `schema`; otherwise `bundle_invalid` naming `file` and the first bad
 * field, written `prefix.field` (unknown keys listed).
 */
export function checkSchema<T>(schema: z.ZodType<T>, value: unknown, file: string, prefix = ''): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = fieldPath(issue.path);
  const field = prefix && path ? `${prefix}.${path}` : prefix || path;
  const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
  throw bundleInvalid(file, `${field || 'document'}: ${issue.message}${keys}`, field || undefined);
}

/** JSON.parse of a file's bytes; a syntax error names the file only (its message may quote content). */
export function parseJsonFile(bytes: Buffer | string, file: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    throw bundleInvalid(file, 'not valid JSON');
  }
}
