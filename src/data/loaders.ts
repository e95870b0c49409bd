/**
 * Streaming loader for interaction files: reads line by line (never the whole file at
 * once), parses with the format's line parser and groups by user in time order.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SeqrecError } from '../errors.js';
import { SequenceCollector } from './collect.js';
import { detectFormat, type DataFormat } from './formats.js';
import { LineError } from './line-error.js';
import { resolveLoadOptions, type LoadOptions } from './load-options.js';
import { createLineParser, type LineParser } from './records.js';
import type { InteractionLog, LoadStats } from './types.js';

export { detectFormat, type DataFormat } from './formats.js';
export type { ColumnOptions, LoadOptions } from './load-options.js';

/** How many skip reasons `stats.skipReasons` keeps. */
const MAX_SKIP_REASONS = 10;

/** Characters at the start of a file that are checked for binary content. */
const SNIFF_CHARS = 64 * 1024;
/** Share of U+FFFD (bytes that are not UTF-8) in the sniffed text above which a file is binary. */
const MAX_INVALID_UTF8 = 0.01;

/**
 * Looks at the first `SNIFF_CHARS` characters: a NUL, or more than 1% (and at least 8) invalid
 * UTF-8 sequences, means binary (or UTF-16) input. Text in a legacy 8-bit encoding with a few
 * accented ids passes; random bytes never do.
 */
class BinarySniffer {
  private chars = 0;
  private invalid = 0;
  private firstInvalidLine = 0;
  private done = false;

  constructor(private readonly path: string) {}

  line(line: string, lineNumber: number): void {
    if (this.done) return;
    const nul = line.indexOf('\0');
    if (nul >= 0) throw this.error(lineNumber, `a NUL byte at column ${nul + 1}`);
    let bad = 0;
    for (let i = line.indexOf('\uFFFD'); i >= 0; i = line.indexOf('\uFFFD', i + 1)) bad++;
    if (bad && !this.invalid) this.firstInvalidLine = lineNumber;
    this.invalid += bad;
    this.chars += line.length + 1;
    if (this.chars >= SNIFF_CHARS) this.finish();
  }

  /** Decides on what was seen (at the end of the window or of the file). */
  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.invalid >= 8 && this.invalid > MAX_INVALID_UTF8 * this.chars) {
      throw this.error(this.firstInvalidLine, `${this.invalid} invalid UTF-8 sequences in its first ${this.chars} characters`);
    }
  }

  private error(line: number, why: string): SeqrecError {
    return new SeqrecError('data_parse', `${this.path} line ${line}: this looks like a binary file, not UTF-8 text (${why})`, { file: this.path, line });
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

function lineError(path: string, line: number, e: LineError): SeqrecError {
  return new SeqrecError('data_parse', `${path} line ${line}: ${e.message}`, { file: path, line, field: e.field });
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

/**
 * Loads an interaction file into one time-ordered sequence per user.
 *
 * - Users appear in order of first appearance; each user's items are sorted by timestamp
 *   with a stable sort, so equal timestamps keep file order. Raw ids stay strings.
 * - Blank lines are ignored. A malformed line throws `SeqrecError('data_parse')` naming the
 *   file and 1-based line (or, with `onMalformed: 'skip'`, is counted in `stats.skipped`).
 *   A bad header is always an error: nothing after it could be read correctly.
 * - With skipping, more than `maxSkipRate` (default 10%) of the data lines malformed is a
 *   `data_parse` error with the counts.
 * - Binary input (a NUL, or many invalid UTF-8 bytes, in the first 64K characters) is a
 *   `data_parse` error, also when skipping. Non-finite numbers (`1e999`, `NaN`), ids longer
 *   than `MAX_ID_LENGTH` and a repeated header line are malformed lines.
 * - Throws `data_empty` when no interaction is left, `invalid_argument` for a missing file.
 */
export async function loadInteractions(path: string, options: LoadOptions = {}): Promise<InteractionLog> {
  const opts = resolveLoadOptions(options);
  await assertReadableFile(path);

  const collector = new SequenceCollector();
  const stats: LoadStats = { source: path, lines: 0, interactions: 0, skipped: 0, skipReasons: [] };
  let parser: LineParser | undefined;
  let format: DataFormat | undefined;

  const sniffer = new BinarySniffer(path);
  let dataLines = 0;
  const onLine = (raw: string): void => {
    stats.lines++;
    const line = stats.lines === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    // Binary input is never skippable: its "lines" are noise that may still parse.
    sniffer.line(line, stats.lines);
    if (line.trim() === '') return;
    try {
      if (!parser) {
        format = opts.format === 'auto' ? detectFormat(path, line) : opts.format;
        try {
          parser = createLineParser(format, line, opts, collector);
        } catch (e) {
          // Without a parser nothing can be read: header problems are never skippable.
          if (e instanceof LineError) throw new LineError(e.message, e.field, true);
          throw e;
        }
        if (parser.headerConsumed) return;
      }
      dataLines++;
      parser.parse(line, stats.lines);
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      if (e.fatal || opts.onMalformed === 'throw') throw lineError(path, stats.lines, e);
      stats.skipped++;
      if (stats.skipReasons.length < MAX_SKIP_REASONS) stats.skipReasons.push(`line ${stats.lines}: ${e.message}`);
    }
  };
  await readLines(path, onLine);
  sniffer.finish();

  stats.interactions = collector.interactions;
  stats.filtered = collector.dropped;
  stats.format = format ?? (opts.format === 'auto' ? undefined : opts.format);
  const categories = collector.categories;
  if (categories) stats.categoryConflicts = collector.categoryConflicts;
  if (collector.interactions === 0) {
    throw new SeqrecError(
      'data_empty',
      `${path}: no interactions found (${stats.lines} lines read, ${stats.skipped} malformed skipped, ` +
        `${stats.filtered} dropped by minRating or behaviors)`,
      { file: path },
    );
  }
  if (stats.skipped > opts.maxSkipRate * dataLines) {
    const pct = (rate: number): string => `${Number((100 * rate).toFixed(1))}%`;
    throw new SeqrecError(
      'data_parse',
      `${path}: ${stats.skipped} of ${dataLines} lines are malformed (${(100 * stats.skipped / dataLines).toFixed(1)}%, ` +
        `more than maxSkipRate ${pct(opts.maxSkipRate)}); is it in the '${stats.format}' format? ` +
        `First problems: ${stats.skipReasons.slice(0, 3).join('; ')}`,
      { file: path, field: 'maxSkipRate' },
    );
  }
  return categories ? { sequences: collector.finish(), stats, categories } : { sequences: collector.finish(), stats };
}
