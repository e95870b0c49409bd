/**
 * Checks of single fields shared by the line parsers; each throws a `LineError` naming the field.
 */
import { isNumeric } from './formats.js';
import { LineError } from './line-error.js';

/** A non-empty id (trimmed). */
export function id(value: string, role: 'user' | 'item' | 'session' | 'category'): string {
  const v = value.trim();
  if (v === '') throw new LineError(`empty ${role} id`, role);
  return v;
}

/** A plain decimal number. */
export function num(value: string, field: 'timestamp' | 'rating'): number {
  const v = value.trim();
  if (v === '') throw new LineError(`empty ${field}`, field);
  if (!isNumeric(v)) throw new LineError(`${field} '${v}' is not a number`, field);
  return Number(v);
}

export function describeDelimiter(d: string): string {
  return d === '\t' ? 'tabs' : `'${d}'`;
}

export function fieldCount(fields: string[], expected: number, delimiter: string, note = ''): void {
  if (fields.length !== expected) {
    throw new LineError(
      `expected ${expected} fields separated by ${describeDelimiter(delimiter)}${note}, got ${fields.length}`,
    );
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
  if (typeof value === 'string') return num(value, field);
  throw new LineError(`field '${key}' (${field}) is not a number`, field);
}
