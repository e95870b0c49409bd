/**
 * Streaming loader for interaction files: reads line by line (never the whole file at
 * once), or a Parquet table row group by row group, parses with the format's parser and
 * groups by user in time order.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SeqrecError } from '../errors.js';
import { SequenceCollector } from './collect.js';
import { createLineParser, detectFormat, isRecordFormat, recordFormatOf, type DataFormat, type LineParser, type RecordSink } from './formats/index.js';
import { LineError } from './line-error.js';
import { resolveLoadOptions, type LoadOptions, type ResolvedLoadOptions } from './load-options.js';
import { MalformedInput } from './malformed.js';
import { readParquetInteractions } from './parquet-reader.js';
import type { InteractionLog, LoadStats } from './types.js';

export { DATA_FORMATS, detectFormat, type DataFormat } from './formats/index.js';
export type { ColumnOptions, LoadOptions } from './load-options.js';

/** Bytes at the start of a file that are checked for binary content. */
const SNIFF_BYTES = 64 * 1024;
/** Share of invalid UTF-8 sequences in those bytes above which a file is binary. */
const MAX_INVALID_UTF8 = 0.01;

/** 1-based line of character `index` in `text`. */
function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/**
 * Refuses binary (or UTF-16) input before any line is parsed: a NUL byte, or more than 1% (and
 * at least 8) invalid UTF-8 sequences, in the first `SNIFF_BYTES`. Text in a legacy 8-bit
 * encoding with a few accented ids passes; random bytes never do. Checked on the raw bytes
 * first, so that a garbage first line cannot be reported as merely malformed.
 */
async function assertTextFile(path: string): Promise<void> {
  const buf = Buffer.alloc(SNIFF_BYTES);
  const handle = await open(path, 'r');
  let n: number;
  try {
    n = (await handle.read(buf, 0, SNIFF_BYTES, 0)).bytesRead;
  } finally {
    await handle.close();
  }
  const head = buf.subarray(0, n);
  const fail = (line: number, why: string): SeqrecError =>
    new SeqrecError('data_parse', `${path} line ${line}: this looks like a binary file, not UTF-8 text (${why})`, { file: path, line });
  const nul = head.indexOf(0);
  if (nul >= 0) throw fail(lineOf(head.toString('latin1'), nul), `a NUL byte at byte ${nul + 1}`);
  // (A character cut at the end of the window adds at most one U+FFFD.)
  const text = new TextDecoder('utf-8').decode(head);
  let invalid = 0;
  for (let i = text.indexOf('\uFFFD'); i >= 0; i = text.indexOf('\uFFFD', i + 1)) invalid++;
  if (invalid >= 8 && invalid > MAX_INVALID_UTF8 * text.length) {
    throw fail(lineOf(text, text.indexOf('\uFFFD')), `${invalid} invalid UTF-8 sequences in its first ${n} bytes`);
  }
}

async function assertReadableFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new SeqrecError('invalid_argument', `cannot read interactions file '${path}': ${why}`, { file: path, field: 'path' });
  }
  if (!info.isFile()) {
    throw new SeqrecError('invalid_argument', `cannot read interactions file '${path}': not a regular file`, {
      file: path,
      field: 'path',
    });
  }
}

/**
 * Calls `onLine` for every line of the file, streamed. Event-based rather than
 * `for await`: one promise per line is several times slower when async hooks are active
 * (as under node:test). The first error thrown by `onLine` stops reading and is rethrown.
 */
function readLines(path: string, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path, { encoding: 'utf8' });
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    let failed = false;
    const fail = (e: unknown): void => {
      if (failed) return;
      failed = true;
      rl.close();
      stream.destroy();
      reject(e);
    };
    stream.on('error', (e) =>
      fail(new SeqrecError('invalid_argument', `cannot read interactions file '${path}': ${e.message}`, { file: path, field: 'path' })),
    );
    rl.on('line', (line) => {
      if (failed) return;
      try {
        onLine(line);
      } catch (e) {
        fail(e);
      }
    });
    rl.on('close', () => {
      if (!failed) resolve();
    });
  });
}

/** A sink that counts what it kept and what a filter dropped (the loader's totals). */
export interface CountingSink extends RecordSink {
  readonly interactions: number;
  readonly dropped: number;
}

/** Feeds every line of a text file to its format's parser; returns the format used. */
async function readText(
  path: string,
  opts: ResolvedLoadOptions,
  sink: RecordSink,
  stats: LoadStats,
  problems: MalformedInput,
): Promise<DataFormat | undefined> {
  // Binary input is never skippable: its "lines" are noise that may still parse.
  await assertTextFile(path);
  let parser: LineParser | undefined;
  let format: DataFormat | undefined;
  const onLine = (raw: string): void => {
    stats.lines++;
    const line = stats.lines === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (line.trim() === '') return;
    try {
      // Node decodes invalid UTF-8 to U+FFFD, so two different ids could become one: such a
      // line is malformed (never skippable before the parser, which may need it as header).
      if (line.includes('\uFFFD')) {
        throw new LineError('not valid UTF-8 (it decodes to U+FFFD); convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8', undefined, !parser);
      }
      if (!parser) {
        format = opts.format === 'auto' ? detectFormat(path, line) : opts.format;
        try {
          parser = createLineParser(format, line, opts, sink);
        } catch (e) {
          // Without a parser nothing can be read: header problems are never skippable.
          if (e instanceof LineError) throw new LineError(e.message, e.field, true);
          throw e;
        }
        if (parser.headerConsumed) return;
      }
      problems.data++;
      parser.parse(line, stats.lines);
    } catch (e) {
      problems.handle(e, stats.lines);
    }
  };
  await readLines(path, onLine);
  return format;
}

/**
 * Reads `path` into `sink` with every check of `loadInteractions` (format detection, malformed
 * lines or rows, the empty and skip-rate checks) and returns the stats. `loadInteractions`
 * collects into memory; the DuckDB engine appends to a table.
 */
export async function readInteractions(path: string, opts: ResolvedLoadOptions, sink: CountingSink): Promise<LoadStats> {
  await assertReadableFile(path);
  const stats: LoadStats = { source: path, lines: 0, interactions: 0, skipped: 0, skipReasons: [] };
  const table = opts.format === 'auto' ? recordFormatOf(path) : isRecordFormat(opts.format) ? opts.format : undefined;
  const problems = new MalformedInput(path, opts.onMalformed, stats, table ? 'row' : 'line');
  let format: DataFormat | undefined;
  if (table) {
    await readParquetInteractions(path, opts, sink, stats, problems);
    format = table;
  } else {
    format = await readText(path, opts, sink, stats, problems);
  }
  const unit = `${problems.unit}s`;
  stats.interactions = sink.interactions;
  stats.filtered = sink.dropped;
  stats.format = format ?? (opts.format === 'auto' ? undefined : opts.format);
  if (sink.interactions === 0) {
    throw new SeqrecError(
      'data_empty',
      `${path}: no interactions found (${stats.lines} ${unit} read, ${stats.skipped} malformed skipped, ` +
        `${stats.filtered} dropped by minRating or behaviors)`,
      { file: path },
    );
  }
  const dataLines = problems.data;
  if (stats.skipped > opts.maxSkipRate * dataLines) {
    const pct = (rate: number): string => `${Number((100 * rate).toFixed(1))}%`;
    throw new SeqrecError(
      'data_parse',
      `${path}: ${stats.skipped} of ${dataLines} ${unit} are malformed (${((100 * stats.skipped) / dataLines).toFixed(1)}%, ` +
        `more than maxSkipRate ${pct(opts.maxSkipRate)}); is it in the '${stats.format}' format? ` +
        `First problems: ${stats.skipReasons.slice(0, 3).join('; ')}`,
      { file: path, field: 'maxSkipRate' },
    );
  }
  return stats;
}

/**
 * Loads an interaction file into one time-ordered sequence per user.
 *
 * - Users appear in order of first appearance; each user's items are sorted by timestamp
 *   with a stable sort, so equal timestamps keep file order. Raw ids stay strings.
 * - Blank lines are ignored. A malformed line throws `SeqrecError('data_parse')` naming the
 *   file and 1-based line (or, with `onMalformed: 'skip'`, is counted in `stats.skipped`).
 *   A bad header is always an error: nothing after it could be read correctly.
 * - A `.parquet` file (or `format: 'parquet'`) is read row group by row group with the
 *   optional package hyparquet; its columns are chosen like a CSV header's, and a malformed
 *   row is reported by 1-based row (`SeqrecError.row`) and column, like a line.
 * - With skipping, more than `maxSkipRate` (default 10%) of the data lines malformed is a
 *   `data_parse` error with the counts.
 * - Binary input (a NUL, or many invalid UTF-8 bytes, in the first 64 KiB) is a
 *   `data_parse` error, also when skipping. Non-finite numbers (`1e999`, `NaN`), ids longer
 *   than `MAX_ID_LENGTH`, a repeated header line and a line that is not valid UTF-8 (it would
 *   decode to U+FFFD, merging distinct ids) are malformed lines.
 * - Throws `data_empty` when no interaction is left, `invalid_argument` for a missing file.
 */
export async function loadInteractions(path: string, options: LoadOptions = {}): Promise<InteractionLog> {
  const opts = resolveLoadOptions(options);
  const collector = new SequenceCollector();
  const stats = await readInteractions(path, opts, collector);
  const categories = collector.categories;
  if (categories) stats.categoryConflicts = collector.categoryConflicts;
  return categories ? { sequences: collector.finish(), stats, categories } : { sequences: collector.finish(), stats };
}
