/**
 * One error type for everything seqrec reports to its users. The `code` says what kind of
 * problem it is; the message names the file, line, field or id involved and, for
 * environmental problems, the command that fixes it.
 */
export type SeqrecErrorCode =
  | 'invalid_config'
  | 'invalid_argument'
  | 'shape_mismatch'
  | 'data_parse'
  | 'data_empty'
  | 'backend_unavailable'
  | 'bundle_invalid'
  | 'unknown_item'
  /** Training produced a non-finite loss or weight; the model keeps its last finite (best) weights. */
  | 'diverged'
  /** An operation did not finish in its time limit (e.g. a bundle reload). */
  | 'timeout'
  /** The user stopped it (Ctrl-C) before it had a result. */
  | 'interrupted'
  /** A process that should answer is gone or not ready (a worker of `seqrec serve --workers`). */
  | 'unavailable';

export interface SeqrecErrorDetails {
  /** File the problem was found in. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** 1-based row number in `file`, for tabular (Parquet) input. */
  row?: number;
  /** Field, option or column name. */
  field?: string;
}

export class SeqrecError extends Error {
  readonly code: SeqrecErrorCode;
  readonly file?: string;
  readonly line?: number;
  readonly row?: number;
  readonly field?: string;

  constructor(code: SeqrecErrorCode, message: string, details: SeqrecErrorDetails = {}) {
    super(message);
    this.name = 'SeqrecError';
    this.code = code;
    this.file = details.file;
    this.line = details.line;
    this.row = details.row;
    this.field = details.field;
  }
}

/** Throws an `invalid_argument` error unless `value` is an integer >= `min`. */
export function assertInteger(value: unknown, name: string, min = 1): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new SeqrecError('invalid_argument', `${name} must be an integer >= ${min}, got ${String(value)}`, { field: name });
  }
}

/** Throws an `invalid_argument` error unless `value` is a finite number in [lo, hi]. */
export function assertInRange(value: unknown, name: string, lo: number, hi: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi) {
    throw new SeqrecError('invalid_argument', `${name} must be a number in [${lo}, ${hi}], got ${String(value)}`, { field: name });
  }
}
