/**
 * Reading a Parquet table of interactions row group by row group (never the whole file), each
 * row through the `parquet` record parser: the same field checks, filters and error reporting
 * as a line of text, with positions given as 1-based rows.
 */
import { SeqrecError } from '../errors.js';
import { openParquet } from '../util/parquet.js';
import { parquetParser, type ParserOptions, type RecordSink } from './formats/index.js';
import { LineError } from './line-error.js';
import type { MalformedInput } from './malformed.js';
import type { LoadStats } from './types.js';

/** Feeds every row of the Parquet file `path` to `sink`; `stats.lines` counts the rows. */
export async function readParquetInteractions(
  path: string,
  options: ParserOptions,
  sink: RecordSink,
  stats: LoadStats,
  problems: MalformedInput,
): Promise<void> {
  const source = await openParquet(path, `reading the Parquet file ${path}`);
  let parser;
  try {
    parser = parquetParser(source.columns, options, sink);
  } catch (e) {
    // Missing columns make the whole table unreadable: never skippable.
    if (e instanceof LineError) throw new SeqrecError('data_parse', `${path}: ${e.message}`, { file: path, field: e.field });
    throw e;
  }
  for await (const { start, rows } of source.rowGroups(parser.columns)) {
    for (let j = 0; j < rows.length; j++) {
      stats.lines++;
      problems.data++;
      try {
        parser.parse(rows[j]);
      } catch (e) {
        problems.handle(e, start + j + 1);
      }
    }
  }
}
