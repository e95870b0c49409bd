/**
 * The one table of interaction file formats: for each its name, how it is recognised, whether
 * it has a header and ratings, and its line parser. Detection, option checks, the CLI's
 * `--format` choices and the loader all read it.
 */
import { basename } from 'node:path';
import { SeqrecError } from '../../errors.js';
import { inferDelimiter } from '../delimited.js';
import { amazonCsvParser, amazonJsonParser, isAmazonCsvRow, isAmazonReview } from './amazon.js';
import { csvParser, isSessionHeader, sessionParser, tsvParser } from './csv.js';
import { LineError } from '../line-error.js';
import { jsonlParser } from './json.js';
import { isNumericTabLine, sequenceParser, sessionLinesParser } from './lines.js';
import { isMovielensCsvHeader, isUdataRow, movielensParser } from './movielens.js';
import type { LineParser, ParserFactory, ParserOptions, RecordSink } from './parser.js';
import { isTaobaoHeader, isTaobaoRow, taobaoParser } from './taobao.js';

export type { LineParser, ParserOptions, RecordSink } from './parser.js';
export { parquetParser, type RecordParser } from './parquet.js';
export { TAOBAO_BEHAVIORS, type TaobaoBehavior } from './taobao.js';

/** What the CLI and docs show about a format. */
export interface DataFormatInfo {
  readonly name: string;
  /** One line for usage text. */
  readonly summary: string;
  /** `'optional'`: recognised and skipped when present. */
  readonly header: 'required' | 'optional' | 'none';
  /** Whether `minRating` can apply. */
  readonly ratings: boolean;
}

interface FormatSpec<N extends string> extends DataFormatInfo {
  readonly name: N;
  /**
   * Claims a file by its base name (lower case), possibly refined by the first line. Tried for
   * every format, in table order, before any `fromLine`.
   */
  readonly fromName?: (fileName: string, line: string) => boolean;
  /** Claims a file that no `fromName` claimed, by its first line alone (table order again). */
  readonly fromLine?: (line: string) => boolean;
  /** The line parser, or `'records'` for a table read row by row (`parquet`, see `parquetParser`). */
  readonly parser: ParserFactory | 'records';
}

const format = <const N extends string>(spec: FormatSpec<N>): FormatSpec<N> => spec;

const isJsonlName = (n: string): boolean => n.endsWith('.jsonl') || n.endsWith('.ndjson');
const isCsvName = (n: string): boolean => n.endsWith('.csv');
const isTsvName = (n: string): boolean => n.endsWith('.tsv');
const hasTab = (l: string): boolean => l.includes('\t');
const hasCsvDelimiter = (l: string): boolean => l.includes(',') || l.includes(';');

/**
 * In detection order: specific shapes before the general formats that would also accept them
 * (an Amazon row is valid CSV, a tab line of numbers valid TSV). Tab-separated first lines are
 * decided by the tab-aware rules, so the comma formats' line rules skip them.
 */
const FORMAT_TABLE = [
  format({
    name: 'parquet',
    summary: 'Apache Parquet table, columns picked by name as for csv (needs the optional package hyparquet)',
    header: 'required',
    ratings: true,
    // Binary: recognised by its name alone, before any line is read.
    fromName: (n) => n.endsWith('.parquet'),
    parser: 'records',
  }),
  format({
    name: 'taobao',
    summary: 'Taobao UserBehavior.csv: user,item,category,behavior,timestamp, no header',
    header: 'optional',
    ratings: false,
    // Its row is distinctive enough to win over any file name.
    fromName: (n, l) => n === 'userbehavior.csv' || isTaobaoRow(l) || isTaobaoHeader(l),
    parser: taobaoParser,
  }),
  format({
    name: 'amazon-json',
    summary: 'Amazon reviews, one object per line with reviewerID, asin, overall, unixReviewTime (2014/2018)',
    header: 'none',
    ratings: true,
    fromName: (n, l) => isJsonlName(n) && isAmazonReview(l),
    fromLine: (l) => l.startsWith('{') && isAmazonReview(l),
    parser: amazonJsonParser,
  }),
  format({
    name: 'jsonl',
    summary: 'one JSON object per line',
    header: 'none',
    ratings: true,
    fromName: isJsonlName,
    fromLine: (l) => l.startsWith('{'),
    parser: jsonlParser,
  }),
  format({
    name: 'movielens-dat',
    summary: 'MovieLens ratings.dat: user::item::rating::timestamp',
    header: 'none',
    ratings: true,
    fromName: (n) => n === 'ratings.dat',
    fromLine: (l) => l.includes('::'),
    parser: movielensParser('movielens-dat'),
  }),
  format({
    name: 'movielens-udata',
    summary: 'MovieLens 100K u.data: user<TAB>item<TAB>rating<TAB>timestamp',
    header: 'none',
    ratings: true,
    fromName: (n) => n === 'u.data',
    fromLine: isUdataRow,
    parser: movielensParser('movielens-udata'),
  }),
  format({
    name: 'sequence',
    summary: "'user item1 item2 ...' per line, whitespace separated, already time-ordered",
    header: 'none',
    ratings: false,
    // Also what a first line nothing else claims means.
    fromLine: isNumericTabLine,
    parser: sequenceParser,
  }),
  format({
    name: 'movielens-csv',
    summary: 'MovieLens ratings.csv: userId,movieId,rating,timestamp with a header row',
    header: 'optional',
    ratings: true,
    fromName: (n, l) => isCsvName(n) && isMovielensCsvHeader(l),
    fromLine: (l) => !hasTab(l) && isMovielensCsvHeader(l),
    parser: movielensParser('movielens-csv'),
  }),
  format({
    name: 'amazon-csv',
    summary: 'Amazon ratings CSV (e.g. ratings_Books.csv): user,item,rating,timestamp, no header',
    header: 'none',
    ratings: true,
    fromName: (n, l) => isCsvName(n) && isAmazonCsvRow(l),
    fromLine: (l) => !hasTab(l) && isAmazonCsvRow(l),
    parser: amazonCsvParser,
  }),
  format({
    name: 'session',
    summary: 'a session log with a header, grouped by its session column (session_id, ...), not by user',
    header: 'required',
    ratings: true,
    fromName: (n, l) => (isCsvName(n) && isSessionHeader(l, inferDelimiter(l))) || (isTsvName(n) && isSessionHeader(l, '\t')),
    fromLine: (l) => (hasTab(l) ? isSessionHeader(l, '\t') : hasCsvDelimiter(l) && isSessionHeader(l, inferDelimiter(l))),
    parser: sessionParser,
  }),
  format({
    name: 'tsv',
    summary: 'tab-separated text with a header row',
    header: 'required',
    ratings: true,
    fromName: isTsvName,
    fromLine: hasTab,
    parser: tsvParser,
  }),
  format({
    name: 'csv',
    summary: 'delimited text with a header row (delimiter inferred from the header)',
    header: 'required',
    ratings: true,
    fromName: isCsvName,
    fromLine: hasCsvDelimiter,
    parser: csvParser,
  }),
  format({
    name: 'session-lines',
    summary: "one session per line: 'session item1 item2 ...' in click order; a session id may not repeat",
    header: 'none',
    ratings: false,
    parser: sessionLinesParser,
  }),
] as const;

/** The interaction file formats `loadInteractions` understands (see `DATA_FORMAT_INFO`). */
export type DataFormat = (typeof FORMAT_TABLE)[number]['name'];

type Spec = FormatSpec<DataFormat>;
const SPECS: readonly Spec[] = FORMAT_TABLE;

/** Every format name, in detection order. */
export const DATA_FORMATS: readonly DataFormat[] = Object.freeze(SPECS.map((s) => s.name));

/** Name, summary, header and ratings of every format, for usage text. */
export const DATA_FORMAT_INFO: readonly (DataFormatInfo & { readonly name: DataFormat })[] = Object.freeze(
  SPECS.map(({ name, summary, header, ratings }) => Object.freeze({ name, summary, header, ratings })),
);

function spec(name: DataFormat): Spec {
  return SPECS.find((s) => s.name === name)!;
}

/**
 * Guesses the format of an interaction file from its name and first non-blank line: the first
 * format (in table order) whose file-name rule claims it, else the first whose first-line rule
 * does, else `sequence`. So `UserBehavior.csv` (or a Taobao row) is `taobao`; `.jsonl`,
 * `ratings.dat`, `u.data`, `.csv` and `.tsv` go by name (a CSV refined by its first line into
 * MovieLens, Amazon, session or plain CSV); otherwise a `{` means JSONL (Amazon reviews with
 * `reviewerID` and `asin`), `::` MovieLens `.dat`, four numbers on tabs `u.data`, other tab
 * numbers a sequence, a tab header TSV (or `session`), then the comma formats.
 */
export function detectFormat(path: string, firstLine: string): DataFormat {
  const name = basename(path).toLowerCase();
  const line = firstLine.replace(/^\uFEFF/, '').trim();
  return (SPECS.find((s) => s.fromName?.(name, line)) ?? SPECS.find((s) => s.fromLine?.(line)))?.name ?? 'sequence';
}

function invalid(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_argument', `loadInteractions: ${message}`, { field });
}

/** Throws unless the format can honour `minRating` and `behaviors` (checked again once 'auto' is resolved). */
export function checkFormatOptions(format: DataFormat, options: { readonly minRating?: number; readonly behaviors?: readonly string[] }): void {
  if (options.minRating !== undefined && !spec(format).ratings) {
    throw invalid('minRating', `minRating needs ratings, but the '${format}' format has none`);
  }
  if (options.behaviors !== undefined && format !== 'taobao') {
    throw invalid('behaviors', `behaviors only applies to the 'taobao' format, not '${format}'`);
  }
}

/**
 * The parser for `format`, given the first non-blank line (the header, for formats that have
 * one). Throws a fatal `LineError` for an unusable header.
 */
export function createLineParser(format: DataFormat, firstLine: string, options: ParserOptions, sink: RecordSink): LineParser {
  checkFormatOptions(format, options);
  const parser = spec(format).parser;
  if (parser === 'records') throw new LineError(`the '${format}' format is a table, not lines of text`, undefined, true);
  return parser(firstLine, options, sink);
}

/** Whether `format` is read as a table of rows (`parquet`) rather than lines of text. */
export function isRecordFormat(format: DataFormat): boolean {
  return spec(format).parser === 'records';
}

/** The record format a file's name claims (`.parquet`), before any of it is read as text. */
export function recordFormatOf(path: string): DataFormat | undefined {
  const name = basename(path).toLowerCase();
  return SPECS.find((s) => s.parser === 'records' && s.fromName?.(name, ''))?.name;
}
