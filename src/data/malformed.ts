/**
 * What the loaders do with a malformed line or row: throw it as a `data_parse` error naming file
 * and position, or (with `onMalformed: 'skip'`) count it and keep the first reasons for the report.
 */
import { SeqrecError } from '../errors.js';
import { LineError } from './line-error.js';
import type { LoadStats } from './types.js';

/** How many skip reasons `stats.skipReasons` keeps. */
const MAX_SKIP_REASONS = 10;

export class MalformedInput {
  /** Data lines or rows seen (the denominator of `maxSkipRate`). */
  data = 0;

  constructor(
    private readonly path: string,
    private readonly onMalformed: 'throw' | 'skip',
    private readonly stats: LoadStats,
    /** What a position counts: text lines, or table rows. */
    readonly unit: 'line' | 'row',
  ) {}

  /** Rethrows anything but a `LineError`; a `LineError` at 1-based `position` is thrown as `data_parse` or counted. */
  handle(e: unknown, position: number): void {
    if (!(e instanceof LineError)) throw e;
    if (e.fatal || this.onMalformed === 'throw') {
      const where = this.unit === 'line' ? { line: position } : { row: position };
      throw new SeqrecError('data_parse', `${this.path} ${this.unit} ${position}: ${e.message}`, { file: this.path, ...where, field: e.field });
    }
    this.stats.skipped++;
    if (this.stats.skipReasons.length < MAX_SKIP_REASONS) this.stats.skipReasons.push(`${this.unit} ${position}: ${e.message}`);
  }
}
