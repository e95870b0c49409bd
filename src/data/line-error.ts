/**
 * A problem with one input line. Parsers throw it; the loader turns it into a
 * `SeqrecError('data_parse')` naming file and line, or counts it when skipping.
 */
export class LineError extends Error {
  /** Field the problem is in (`user`, `item`, `timestamp`, ...), when there is one. */
  readonly field?: string;
  /** True when the problem makes the whole file unreadable (a bad header), so skipping is impossible. */
  readonly fatal: boolean;

  constructor(reason: string, field?: string, fatal = false) {
    super(reason);
    this.name = 'LineError';
    this.field = field;
    this.fatal = fatal;
  }
}
