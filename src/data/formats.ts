/**
 * Interaction file formats and their auto-detection from a file name and first line.
 */
import { basename } from 'node:path';
import { splitDelimited } from './delimited.js';
import { DEFAULT_NAMES, normalizeName, SESSION_NAMES } from './names.js';
import { parseObjectLine } from './python-literal.js';

export { normalizeName } from './names.js';

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
  | 'jsonl'
  /** Amazon ratings CSV (McAuley et al., e.g. `ratings_Books.csv`): `user,item,rating,timestamp`, no header. */
  | 'amazon-csv'
  /** Amazon reviews, one object per line with `reviewerID`, `asin`, `overall`, `unixReviewTime` (2014/2018). */
  | 'amazon-json'
  /** Taobao `UserBehavior.csv`: `user,item,category,behavior,timestamp`, no header. */
  | 'taobao'
  /** A session log with a header: grouped by the session column (`session_id`, ...), not by user. */
  | 'session'
  /** One session per line: `session item1 item2 ...` in click order; a session id may not repeat. */
  | 'session-lines';

export const DATA_FORMATS: readonly DataFormat[] = [
  'sequence',
  'movielens-dat',
  'movielens-udata',
  'movielens-csv',
  'csv',
  'tsv',
  'jsonl',
  'amazon-csv',
  'amazon-json',
  'taobao',
  'session',
  'session-lines',
];

/** Taobao `behavior_type` values: page view (click), purchase, add to cart, favorite. */
export const TAOBAO_BEHAVIORS = ['pv', 'buy', 'cart', 'fav'] as const;
export type TaobaoBehavior = (typeof TAOBAO_BEHAVIORS)[number];

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** True when `s` (trimmed) is a plain decimal number. */
export function isNumeric(s: string): boolean {
  return NUMERIC.test(s.trim());
}

function isMovielensCsvHeader(line: string): boolean {
  return line.split(',').map(normalizeName).join(',') === 'userid,movieid,rating,timestamp';
}

/** The optional header some copies of `UserBehavior.csv` carry. */
export function isTaobaoHeader(line: string): boolean {
  return line.split(',').map(normalizeName).join(',') === 'userid,itemid,categoryid,behaviortype,timestamp';
}

/** `1,2268318,2520377,pv,1511544070`: three integer ids, a behavior, an integer time. */
function isTaobaoRow(line: string): boolean {
  const f = line.split(',');
  return (
    f.length === 5 &&
    /^\d+$/.test(f[0]) &&
    /^\d+$/.test(f[1]) &&
    /^\d+$/.test(f[2]) &&
    (TAOBAO_BEHAVIORS as readonly string[]).includes(f[3]) &&
    /^-?\d+$/.test(f[4])
  );
}

/**
 * `A2IIIDRK3PRRZY,0000000116,1.0,1395619200`: two ids, a rating in [0, 10] and an integer
 * Unix time of at least 9 digits (1973 on). Strict, so short comma-separated sequence lines
 * such as `1,2,3,4` do not look like ratings.
 */
function isAmazonCsvRow(line: string): boolean {
  const f = line.split(',');
  if (f.length !== 4 || f[0].trim() === '' || f[1].trim() === '') return false;
  const rating = f[2].trim();
  return isNumeric(rating) && Number(rating) >= 0 && Number(rating) <= 10 && /^\d{9,}$/.test(f[3].trim());
}

/** A first object with both `reviewerID` and `asin` (strict JSON or a Python dict literal). */
function isAmazonReview(line: string): boolean {
  if (!line.includes('reviewerID') || !line.includes('asin')) return false;
  try {
    const obj = parseObjectLine(line);
    return Object.hasOwn(obj, 'reviewerID') && Object.hasOwn(obj, 'asin');
  } catch {
    return false;
  }
}

/** A header whose grouping column (the first user-like one, as `csv` picks it) is a session column. */
function isSessionHeader(line: string, delimiter: string): boolean {
  let names: string[];
  try {
    names = splitDelimited(line, delimiter).map(normalizeName);
  } catch {
    return false;
  }
  const group = names.find((n) => DEFAULT_NAMES.user.includes(n));
  return group !== undefined && SESSION_NAMES.includes(group);
}

/**
 * Guesses the format of an interaction file.
 *
 * Taobao's `UserBehavior.csv` is recognised by name or by its row (or header) shape first.
 * Then the file name decides (`.jsonl`/`.ndjson`, `ratings.dat`, `u.data`, `.csv`, `.tsv`);
 * otherwise the first non-blank line does: a `{` means JSONL (Amazon reviews when the object
 * has `reviewerID` and `asin`), `::` MovieLens `.dat`, four numeric tab-separated fields
 * `u.data`, other tab-separated text a TSV header, an Amazon ratings row `amazon-csv`, a comma
 * or semicolon a CSV header, and anything else the `user item1 item2 ...` sequence format.
 * A CSV/TSV header whose grouping column is a session column gives `session`.
 */
export function detectFormat(path: string, firstLine: string): DataFormat {
  const name = basename(path).toLowerCase();
  const line = firstLine.replace(/^\uFEFF/, '').trim();
  if (name === 'userbehavior.csv' || isTaobaoRow(line) || isTaobaoHeader(line)) return 'taobao';
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson')) return isAmazonReview(line) ? 'amazon-json' : 'jsonl';
  if (name === 'ratings.dat') return 'movielens-dat';
  if (name === 'u.data') return 'movielens-udata';
  if (name.endsWith('.csv')) {
    if (isMovielensCsvHeader(line)) return 'movielens-csv';
    if (isAmazonCsvRow(line)) return 'amazon-csv';
    return isSessionHeader(line, inferDelimiter(line)) ? 'session' : 'csv';
  }
  if (name.endsWith('.tsv')) return isSessionHeader(line, '\t') ? 'session' : 'tsv';

  if (line.startsWith('{')) return isAmazonReview(line) ? 'amazon-json' : 'jsonl';
  if (line.includes('::')) return 'movielens-dat';
  if (line.includes('\t')) {
    const fields = line.split('\t');
    if (fields.every(isNumeric)) return fields.length === 4 ? 'movielens-udata' : 'sequence';
    return isSessionHeader(line, '\t') ? 'session' : 'tsv';
  }
  if (isMovielensCsvHeader(line)) return 'movielens-csv';
  if (isAmazonCsvRow(line)) return 'amazon-csv';
  if (line.includes(',') || line.includes(';')) return isSessionHeader(line, inferDelimiter(line)) ? 'session' : 'csv';
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
