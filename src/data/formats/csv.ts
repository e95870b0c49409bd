/**
 * Delimited text with a header naming the columns: `csv`, `tsv`, and `session` (the same,
 * grouped by the session column).
 */
import { resolveColumns } from '../columns.js';
import { inferDelimiter, splitDelimited } from '../delimited.js';
import { fieldCount, id, num } from '../fields.js';
import { LineError } from '../line-error.js';
import { DEFAULT_NAMES, normalizeName, SESSION_NAMES } from '../names.js';
import { repeatedHeaderMessage, repeatsHeader, type LineParser, type ParserFactory, type ParserOptions, type RecordSink } from './parser.js';

/** A header whose grouping column (the first user-like one, as `csv` picks it) is a session column. */
export function isSessionHeader(line: string, delimiter: string): boolean {
  let names: string[];
  try {
    names = splitDelimited(line, delimiter).map(normalizeName);
  } catch {
    return false;
  }
  const group = names.find((n) => DEFAULT_NAMES.user.includes(n));
  return group !== undefined && SESSION_NAMES.includes(group);
}

function headerParser(defaultDelimiter: (header: string) => string): ParserFactory {
  return (header, options, sink) => delimited(header, options.delimiter ?? defaultDelimiter(header), options, sink);
}

function delimited(header: string, delimiter: string, options: ParserOptions, sink: RecordSink): LineParser {
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

/** `csv`: the delimiter is inferred from the header unless given. */
export const csvParser: ParserFactory = headerParser(inferDelimiter);

/** `tsv`: tab-separated unless a delimiter is given. */
export const tsvParser: ParserFactory = headerParser(() => '\t');

/**
 * A session log with a header: the `csv` parser, grouped by the session column. That is
 * `columns.user` when given, else the first header named `session`/`session_id`/`sessionId`
 * (even when a user column comes first).
 */
export const sessionParser: ParserFactory = (header, options, sink) => {
  if (options.columns.user !== undefined) return csvParser(header, options, sink);
  const delimiter = options.delimiter ?? inferDelimiter(header);
  const names = splitDelimited(header, delimiter).map((n) => n.trim());
  const session = names.find((n) => SESSION_NAMES.includes(normalizeName(n)));
  if (session === undefined) {
    throw new LineError(
      `no session column found among ${names.map((n) => `'${n}'`).join(', ')}; name it with options.columns.user, ` + "or use format 'csv' to group by user",
      'session',
      true,
    );
  }
  return delimited(header, delimiter, { ...options, columns: { ...options.columns, user: session } }, sink);
};
