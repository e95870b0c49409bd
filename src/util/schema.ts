/**
 * The one bridge from zod schemas to `SeqrecError`: every edge (model and Trainer configs, CLI
 * flags, bundle files, HTTP bodies) parses its input with a strict zod object and reports the
 * first bad field by path, with a "did you mean" hint for an unknown key.
 */
import type { z } from 'zod';
import { SeqrecError, type SeqrecErrorCode, type SeqrecErrorDetails } from '../errors.js';

/** Formats a zod issue path as `weights[1].offset`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** Edit distance (insert, delete, substitute, swap of neighbours); written here because it is ten lines. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest of `candidates` to `name` (case-insensitive), if it is near enough to be a typo. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const dist = distance(name.toLowerCase(), c.toLowerCase());
    if (dist < bestDistance) [best, bestDistance] = [c, dist];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/** " (did you mean 'x'?)" or "", for messages. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const hint = closest(name, candidates);
  return hint === undefined ? '' : ` (did you mean '${hint}'?)`;
}

/** The keys a zod object schema accepts at `path` (for hints), or none. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  for (const p of path) {
    const shape = shapeOf(node);
    if (!shape || typeof p !== 'string' || !(p in shape)) return [];
    node = shape[p];
  }
  return Object.keys(shapeOf(node) ?? {});
}

function shapeOf(node: unknown): Record<string, unknown> | undefined {
  // Unwraps optional/default/nullable wrappers and pipes (a `.transform`) down to an object's shape.
  let n = node as { shape?: Record<string, unknown>; unwrap?: () => unknown; in?: unknown } | undefined;
  for (let i = 0; n && i < 8; i++) {
    if (n.shape && typeof n.shape === 'object') return n.shape;
    if (n.in !== undefined) n = n.in as typeof n;
    else if (typeof n.unwrap === 'function') n = n.unwrap() as typeof n;
    else return undefined;
  }
  return undefined;
}

export interface ParseOptions {
  /** Error code; default 'invalid_config'. */
  code?: SeqrecErrorCode;
  /** What is being parsed, first in the message: "GRU4Rec config", "model.json". */
  where: string;
  /** Written before each field path: "model.config". */
  prefix?: string;
  /** Extra details (file, line). */
  details?: SeqrecErrorDetails;
}

/**
 * `value` parsed by `schema`, or a `SeqrecError` naming the first bad field:
 * "GRU4Rec config: unknown option 'hiddenDimm' (did you mean 'hiddenDim'?)".
 */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, options: ParseOptions): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw schemaError(schema, parsed.error.issues[0], options);
}

/** The `SeqrecError` for one zod issue. */
export function schemaError(schema: z.ZodType, issue: z.core.$ZodIssue, options: ParseOptions): SeqrecError {
  const join = (path: string) => (options.prefix && path ? `${options.prefix}.${path}` : options.prefix || path);
  if (issue.code === 'unrecognized_keys') {
    const accepted = keysAt(schema, issue.path);
    const names = issue.keys.map((k) => `'${k}'${didYouMean(k, accepted)}`).join(', ');
    const field = join(fieldPath([...issue.path, issue.keys[0]]));
    const at = issue.path.length ? ` in ${join(fieldPath(issue.path))}` : '';
    return new SeqrecError(options.code ?? 'invalid_config', `${options.where}: unknown option${issue.keys.length > 1 ? 's' : ''} ${names}${at}`, {
      ...options.details,
      field,
    });
  }
  const field = join(fieldPath(issue.path));
  return new SeqrecError(options.code ?? 'invalid_config', `${options.where}: ${field || 'value'}: ${issue.message}`, {
    ...options.details,
    field: field || undefined,
  });
}
