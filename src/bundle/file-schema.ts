/**
 * Checking the JSON files of a checkpoint or bundle against their zod schemas, with errors that
 * name the bundle-relative file and the first bad field (never an absolute path or the file's
 * content). Shared by the pointer (CURRENT), model.json, the bundle section, vocabulary.json,
 * popularity.json and the faiss sidecar.
 */
import type { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { fieldPath, schemaError } from '../util/schema.js';

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
  // An extra field is named with the closest accepted one: "unknown option 'simlarity' (did you mean 'similarity'?)".
  if (issue.code === 'unrecognized_keys') {
    // schemaError says "in <path>" only below the top; a prefixed section gets it in `where`.
    const where = prefix && issue.path.length === 0 ? `${file}: ${prefix}` : file;
    throw schemaError(schema, issue, { where, code: 'bundle_invalid', prefix: prefix || undefined, details: { file } });
  }
  const path = fieldPath(issue.path);
  const field = prefix && path ? `${prefix}.${path}` : prefix || path;
  throw bundleInvalid(file, `${field || 'document'}: ${issue.message}`, field || undefined);
}

/** JSON.parse of a file's bytes; a syntax error names the file only (its message may quote content). */
export function parseJsonFile(bytes: Buffer | string, file: string): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    throw bundleInvalid(file, 'not valid JSON');
  }
}
