/**
 * Interaction file formats and their auto-detection from a file name and first line.
 */
import { basename } from 'node:path';

/** The interaction file formats `loadInteractions` understands. */
export type DataFormat =
  /** `user item1 item2 ...` per line, whitespace separated, already time-ordered. */
  | 'sequence'
  /** MovieLens `ratings.dat`: `user::item::rating::timestamp`. */
  | 'movielens-dat'
  /** MovieLens 100K `u.data`: `user\titem\trating\ttimestamp`. */
  | 'movielens-udata'
  /** MovieLens `ratings.csv`: `userId,movieId,rating,timestamp` with a header row. */
  | 'movielens-csv'
  /** Delimited text with a header row (default delimiter inferred from the header). */
  | 'csv'
  /** Tab-separated text with a header row. */
  | 'tsv'
  /** One JSON object per line. */
  | 'jsonl';

export const DATA_FORMATS: readonly DataFormat[] = [
  'sequence',
  'movielens-dat',
  'movielens-udata',
  'movielens-csv',
  'csv',
  'tsv',
  'jsonl',
];

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** True when `s` (trimmed) is a plain decimal number. */
export function isNumeric(s: string): boolean {
  return NUMERIC.test(s.trim());
}

/** Lower-cases and drops `_`, `-` and spaces so `user_id`, `userId` and `User ID` compare equal. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[\s_-]/g, '');
}

function isMovielensCsvHeader(line: string): boolean {
  return line.split(',').map(normalizeName).join(',') === 'userid,movieid,rating,timestamp';
}

/**
 * Guesses the format of an interaction file.
 *
 * The file name decides first (`.jsonl`/`.ndjson`, `ratings.dat`, `u.data`, `.csv`, `.tsv`);
 * otherwise the first non-blank line does: a `{` means JSONL, `::` MovieLens `.dat`, four
 * numeric tab-separated fields `u.data`, other tab-separated text a TSV header, a comma or
 * semicolon a CSV header, and anything else the `user item1 item2 ...` sequence format.
 */
export function detectFormat(path: string, firstLine: string): DataFormat {
  const name = basename(path).toLowerCase();
  const line = firstLine.replace(/^\uFEFF/, '').trim();
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'jsonl';
  if (name === 'ratings.dat') return 'movielens-dat';
  if (name === 'u.data') return 'movielens-udata';
  if (name.endsWith('.csv')) return isMovielensCsvHeader(line) ? 'movielens-csv' : 'csv';
  if (name.endsWith('.tsv')) return 'tsv';

  if (line.startsWith('{')) return 'jsonl';
  if (line.includes('::')) return 'movielens-dat';
  if (line.includes('\t')) {
    const fields = line.split('\t');
    if (fields.every(isNumeric)) return fields.length === 4 ? 'movielens-udata' : 'sequence';
    return 'tsv';
  }
  if (isMovielensCsvHeader(line)) return 'movielens-csv';
  if (line.includes(',') || line.includes(';')) return 'csv';
  return 'sequence';
}

/** The CSV delimiter a header row most likely uses: `,` unless it only has `;` or tabs. */
export function inferDelimiter(header: string): string {
  if (header.includes(',')) return ',';
  if (header.includes(';')) return ';';
  if (header.includes('\t')) return '\t';
  if (header.includes('|')) return '|';
  return ',';
}
