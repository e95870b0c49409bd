/**
 * Checks of single fields shared by the line parsers; each throws a `LineError` naming the field.
 */
import { LineError } from './line-error.js';

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** True when `s` (trimmed) is a plain decimal number. */
export function isNumeric(s: string): boolean {
  return NUMERIC.test(s.trim());
}

/**
 * Longest user, item, session or category id, in UTF-16 code units (JS string length). The
 * HTTP server caps request ids at the same length, so every loaded id can be asked for.
 */
export const MAX_ID_LENGTH = 512;

/** `v`, cut to 40 characters: a message must not quote a 10 MB field. */
function excerpt(v: string): string {
  return v.length > 40 ? `${v.slice(0, 40)}...` : v;
}

/** A non-empty id (trimmed) of at most `MAX_ID_LENGTH` characters. */
export function id(value: string, role: 'user' | 'item' | 'session' | 'category'): string {
  const v = value.trim();
  if (v === '') throw new LineError(`empty ${role} id`, role);
  if (v.length > MAX_ID_LENGTH) {
    throw new LineError(`${role} id of ${v.length} characters ('${excerpt(v)}'); ids may have at most ${MAX_ID_LENGTH}`, role);
  }
  return v;
}

/** A plain decimal number that is finite as a double (`1e999` overflows to Infinity). */
export function num(value: string, field: 'timestamp' | 'rating'): number {
  const v = value.trim();
  if (v === '') throw new LineError(`empty ${field}`, field);
  if (!isNumeric(v)) throw new LineError(`${field} '${excerpt(v)}' is not a number`, field);
  const n = Number(v);
  if (!Number.isFinite(n)) throw new LineError(`${field} '${excerpt(v)}' is not a finite number`, field);
  return n;
}

export function describeDelimiter(d: string): string {
  return d === '\t' ? 'tabs' : `'${d}'`;
}

export function fieldCount(fields: string[], expected: number, delimiter: string, note = ''): void {
  if (fields.length !== expected) {
    throw new LineError(`expected ${expected} fields separated by ${describeDelimiter(delimiter)}${note}, got ${fields.length}`);
  }
}

/** A JSON id: a non-empty string or a finite number (which becomes a string). */
export function jsonId(value: unknown, key: string, role: 'user' | 'item'): string {
  if (value === undefined) throw new LineError(`missing field '${key}'`, role);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') throw new LineError(`field '${key}' must be a string or number`, role);
  return id(value, role);
}

/** A JSON number, or a string holding one. */
export function jsonNumber(value: unknown, key: string, field: 'timestamp' | 'rating'): number {
  if (value === undefined) throw new LineError(`missing field '${key}'`, field);
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  // JSON.parse turns 1e999 into Infinity.
  if (typeof value === 'number') throw new LineError(`field '${key}' (${field}) is not a finite number`, field);
  if (typeof value === 'string') return num(value, field);
  throw new LineError(`field '${key}' (${field}) is not a number`, field);
}
