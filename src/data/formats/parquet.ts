/**
 * `parquet`: a table of interactions whose columns are picked by name as the `csv` header's are
 * (`resolveColumns`, the same defaults and `columns` override). A row is a record of typed
 * values rather than a line of text, but each value goes through the checks of the text
 * formats (`id`, `num`) and every problem names its column.
 */
import { resolveColumns } from '../columns.js';
import { id, num } from '../fields.js';
import { LineError } from '../line-error.js';
import type { ParserOptions, RecordSink } from './parser.js';

/** Parses the rows of a table whose columns are `names`. */
export interface RecordParser {
  /** The columns each row passed to `parse` must hold, in this order. */
  readonly columns: readonly string[];
  /** Parses one row (values of `columns`); throws `LineError` when it is malformed. */
  parse(values: readonly unknown[]): void;
}

function describe(v: unknown): string {
  return v === null ? 'null' : v instanceof Date ? 'a date' : Array.isArray(v) ? 'a list' : `a ${typeof v}`;
}

/** A string or integer id; numbers become their decimal text, as a number in a JSON line does. */
function recordId(value: unknown, role: 'user' | 'item'): string {
  if (typeof value === 'string') return id(value, role);
  if (typeof value === 'bigint') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new LineError(`${role} id is ${describe(value)}, not a string or number`, role);
}

/** A finite number: a numeric value, an INT64 within 2^53, a date (its milliseconds), or numeric text. */
function recordNumber(value: unknown, field: 'timestamp' | 'rating'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new LineError(`${field} ${value} is not a finite number`, field);
    return value;
  }
  if (typeof value === 'bigint') {
    // Rounding would merge distinct times and so reorder ties: refuse it.
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new LineError(`${field} ${value} is beyond 2^53 and cannot be kept exactly`, field);
    }
    return Number(value);
  }
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') return num(value, field);
  throw new LineError(`${field} is ${describe(value)}, not a number`, field);
}

/** Reads `read()` as column `name`: a problem names the column. */
function inColumn<T>(name: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof LineError) throw new LineError(`column '${name}': ${e.message}`, e.field);
    throw e;
  }
}

/** The parser of a Parquet table with columns `names`; a fatal `LineError` when a needed column is missing. */
export function parquetParser(names: readonly string[], options: ParserOptions, sink: RecordSink): RecordParser {
  const { minRating } = options;
  const col = resolveColumns(names, options.columns, minRating !== undefined);
  const user = names[col.user];
  const item = names[col.item];
  const time = col.time >= 0 ? names[col.time] : undefined;
  const rating = minRating !== undefined ? names[col.rating] : undefined;
  const columns = [user, item, ...(time !== undefined ? [time] : []), ...(rating !== undefined ? [rating] : [])];
  const ratingAt = time !== undefined ? 3 : 2;
  return {
    columns,
    parse(v) {
      const u = inColumn(user, () => recordId(v[0], 'user'));
      const i = inColumn(item, () => recordId(v[1], 'item'));
      const t = time !== undefined ? inColumn(time, () => recordNumber(v[2], 'timestamp')) : undefined;
      if (rating !== undefined && inColumn(rating, () => recordNumber(v[ratingAt], 'rating')) < minRating!) sink.drop();
      else sink.add(u, i, t);
    },
  };
}
