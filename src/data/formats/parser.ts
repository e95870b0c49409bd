/**
 * What every format's line parser is: the sink it writes to, the options it reads, and the
 * repeated-header check the headed formats share.
 */
import type { ColumnOptions } from '../columns.js';
import { id, num } from '../fields.js';

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

/** The load options a parser reads (already validated by `resolveLoadOptions`). */
export interface ParserOptions {
  readonly delimiter: string | undefined;
  readonly columns: ColumnOptions;
  readonly minRating: number | undefined;
  /** `taobao` only; undefined keeps `pv`. */
  readonly behaviors: readonly string[] | undefined;
}

/** Creates a format's parser from the first non-blank line (its header, when it has one). */
export type ParserFactory = (firstLine: string, options: ParserOptions, sink: RecordSink) => LineParser;

/** True when a data line's fields are the header's names again (trimmed, case-insensitive). */
export function repeatsHeader(fields: readonly string[], names: readonly string[]): boolean {
  return fields.length === names.length && fields.every((f, i) => f.trim().toLowerCase() === names[i].trim().toLowerCase());
}

export function repeatedHeaderMessage(header: string): string {
  const shown = header.length > 80 ? `${header.slice(0, 80)}...` : header;
  return `line repeats the header '${shown.trim()}' (were two files joined?)`;
}

/** Adds one `user, item, rating, timestamp` row (MovieLens, Amazon ratings), or drops it below `minRating`. */
export function addRatingRow(f: readonly string[], minRating: number | undefined, sink: RecordSink): void {
  const user = id(f[0], 'user');
  const item = id(f[1], 'item');
  const rating = num(f[2], 'rating');
  const time = num(f[3], 'timestamp');
  if (minRating !== undefined && rating < minRating) sink.drop();
  else sink.add(user, item, time);
}
