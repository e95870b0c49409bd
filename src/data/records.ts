/**
 * Per-format line parsers: each turns one non-blank line into interactions for a sink, or
 * throws a `LineError` saying what is wrong with it. A malformed line adds nothing.
 */
import { SeqrecError } from '../errors.js';
import { resolveColumns, type ColumnIndices } from './columns.js';
import { splitDelimited } from './delimited.js';
import { fieldCount, id, jsonId, jsonNumber, num } from './fields.js';
import { inferDelimiter, isNumeric, type DataFormat } from './formats.js';
import { LineError } from './line-error.js';
import type { ResolvedLoadOptions } from './load-options.js';
import { normalizeName, SESSION_NAMES } from './names.js';
import { amazonCsvParser, amazonJsonParser, sessionLinesParser, taobaoParser } from './presets.js';

/** Where parsed interactions go. */
export interface RecordSink {
  /** One interaction; `time` undefined means "file order"; `category` only from formats that have one. */
  add(user: string, item: string, time: number | undefined, category?: string): void;
  /** A well-formed interaction removed by a filter (`minRating`, `behaviors`). */
  drop(): void;
}

export interface LineParser {
  /** True when the first non-blank line was a header: it must not be parsed as data. */
  readonly headerConsumed: boolean;
  /** Parses one non-blank line (1-based `lineNumber` in the file); throws `LineError` when it is malformed. */
  parse(line: string, lineNumber: number): void;
}

/** True when a data line's fields are the header's names again (trimmed, case-insensitive). */
export function repeatsHeader(fields: readonly string[], names: readonly string[]): boolean {
  return fields.length === names.length && fields.every((f, i) => f.trim().toLowerCase() === names[i].trim().toLowerCase());
}

export function repeatedHeaderMessage(header: string): string {
  const shown = header.length > 80 ? `${header.slice(0, 80)}...` : header;
  return `line repeats the header '${shown.trim()}' (were two files joined?)`;
}

/** `user item1 item2 ...`; the timestamp is the position (file order). */
function sequenceParser(options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  const { delimiter } = options;
  return {
    headerConsumed: false,
    parse(line) {
      const tokens = delimiter === undefined ? line.trim().split(/\s+/) : line.split(delimiter).map((t) => t.trim());
      if (tokens.length < 2) throw new LineError('expected a user id followed by at least one item, got 1 field', 'item');
      const user = id(tokens[0], 'user');
      const items = tokens.slice(1).map((t) => id(t, 'item'));
      for (const item of items) sink.add(user, item, undefined);
    },
  };
}

/** The three MovieLens layouts: `user, item, rating, timestamp` with a fixed delimiter. */
function movielensParser(
  format: 'movielens-dat' | 'movielens-udata' | 'movielens-csv',
  firstLine: string,
  options: ResolvedLoadOptions,
  sink: RecordSink,
): LineParser {
  const delimiter = format === 'movielens-dat' ? '::' : format === 'movielens-udata' ? '\t' : ',';
  const split = (line: string): string[] =>
    format === 'movielens-csv' ? splitDelimited(line, ',') : line.trim().split(delimiter);
  // ratings.csv has a header; a file without one must not lose its first row.
  let headerConsumed = false;
  if (format === 'movielens-csv') {
    const first = split(firstLine);
    headerConsumed = first.length < 3 || !isNumeric(first[2]);
  }
  const { minRating } = options;
  return {
    headerConsumed,
    parse(line) {
      const f = split(line);
      if (headerConsumed && repeatsHeader(f, split(firstLine))) throw new LineError(repeatedHeaderMessage(firstLine));
      fieldCount(f, 4, delimiter);
      const user = id(f[0], 'user');
      const item = id(f[1], 'item');
      const rating = num(f[2], 'rating');
      const time = num(f[3], 'timestamp');
      if (minRating !== undefined && rating < minRating) sink.drop();
      else sink.add(user, item, time);
    },
  };
}

/** Delimited text with a header naming the columns. */
function delimitedParser(format: 'csv' | 'tsv', header: string, options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  const delimiter = options.delimiter ?? (format === 'tsv' ? '\t' : inferDelimiter(header));
  const names = splitDelimited(header, delimiter).map((n) => n.trim());
  const { minRating } = options;
  const col = resolveColumns(names, options.columns, minRating !== undefined);
  return {
    headerConsumed: true,
    parse(line) {
      const f = splitDelimited(line, delimiter);
      // Without a time column nothing else would catch it: 'user,item' would load as user 'user'.
      if (repeatsHeader(f, names)) throw new LineError(repeatedHeaderMessage(header));
      fieldCount(f, names.length, delimiter, ' (as in the header)');
      const user = id(f[col.user], 'user');
      const item = id(f[col.item], 'item');
      const time = col.time >= 0 ? num(f[col.time], 'timestamp') : undefined;
      if (minRating !== undefined && num(f[col.rating], 'rating') < minRating) sink.drop();
      else sink.add(user, item, time);
    },
  };
}

/**
 * A session log with a header: the `csv` parser, grouped by the session column. That is
 * `columns.user` when given, else the first header named `session`/`session_id`/`sessionId`
 * (even when a user column comes first).
 */
function sessionParser(header: string, options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  if (options.columns.user !== undefined) return delimitedParser('csv', header, options, sink);
  const delimiter = options.delimiter ?? inferDelimiter(header);
  const names = splitDelimited(header, delimiter).map((n) => n.trim());
  const session = names.find((n) => SESSION_NAMES.includes(normalizeName(n)));
  if (session === undefined) {
    throw new LineError(
      `no session column found among ${names.map((n) => `'${n}'`).join(', ')}; name it with options.columns.user, ` +
        "or use format 'csv' to group by user",
      'session',
      true,
    );
  }
  return delimitedParser('csv', header, { ...options, columns: { ...options.columns, user: session } }, sink);
}

/** One JSON object per line; keys are resolved from the first object like a header. */
function jsonlParser(options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  const { minRating } = options;
  let keys: { names: string[]; col: ColumnIndices } | undefined;
  return {
    headerConsumed: false,
    parse(line) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new LineError(`invalid JSON (${(e as Error).message})`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new LineError('expected a JSON object');
      }
      const obj = value as Record<string, unknown>;
      if (!keys) {
        // Explicitly named keys count as present: a line lacking one is then that line's problem.
        const explicit = Object.values(options.columns).filter((k): k is string => typeof k === 'string');
        const names = [...new Set([...Object.keys(obj), ...explicit])];
        keys = { names, col: resolveColumns(names, options.columns, minRating !== undefined) };
      }
      const key = (role: keyof ColumnIndices): string => keys!.names[keys!.col[role]];
      const user = jsonId(obj[key('user')], key('user'), 'user');
      const item = jsonId(obj[key('item')], key('item'), 'item');
      const time = keys.col.time >= 0 ? jsonNumber(obj[key('time')], key('time'), 'timestamp') : undefined;
      if (minRating !== undefined && jsonNumber(obj[key('rating')], key('rating'), 'rating') < minRating) sink.drop();
      else sink.add(user, item, time);
    },
  };
}

/**
 * Creates the parser for `format`, given the first non-blank line (the header, for formats
 * that have one). Throws a fatal `LineError` for an unusable header.
 */
export function createLineParser(
  format: DataFormat,
  firstLine: string,
  options: ResolvedLoadOptions,
  sink: RecordSink,
): LineParser {
  // Checked here too because an auto-detected format is only known now.
  if (options.minRating !== undefined && (format === 'sequence' || format === 'session-lines' || format === 'taobao')) {
    throw new SeqrecError('invalid_argument', `loadInteractions: minRating needs ratings, but the '${format}' format has none`, {
      field: 'minRating',
    });
  }
  if (options.behaviors !== undefined && format !== 'taobao') {
    throw new SeqrecError('invalid_argument', `loadInteractions: behaviors only applies to the 'taobao' format, not '${format}'`, {
      field: 'behaviors',
    });
  }
  switch (format) {
    case 'sequence':
      return sequenceParser(options, sink);
    case 'movielens-dat':
    case 'movielens-udata':
    case 'movielens-csv':
      return movielensParser(format, firstLine, options, sink);
    case 'csv':
    case 'tsv':
      return delimitedParser(format, firstLine, options, sink);
    case 'jsonl':
      return jsonlParser(options, sink);
    case 'amazon-csv':
      return amazonCsvParser(options, sink);
    case 'amazon-json':
      return amazonJsonParser(options, sink);
    case 'taobao':
      return taobaoParser(firstLine, options, sink);
    case 'session':
      return sessionParser(firstLine, options, sink);
    case 'session-lines':
      return sessionLinesParser(options, sink);
  }
}
