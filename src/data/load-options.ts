/**
 * Options of `loadInteractions`, and their validation.
 */
import { SeqrecError } from '../errors.js';
import { DATA_FORMATS, TAOBAO_BEHAVIORS, type DataFormat, type TaobaoBehavior } from './formats.js';

/** Column (or JSON key) names for the `csv`, `tsv`, `jsonl` and `session` formats. */
export interface ColumnOptions {
  /** User or session id column. Default: the first header matching user/user_id/userId/session/session_id/... */
  user?: string;
  /** Item id column. Default: the first header matching item/item_id/itemId/movieId/product_id/... */
  item?: string;
  /** Numeric time column. Default: the first header matching timestamp/time/ts/timeframe/pos/...; without one, file order. */
  time?: string;
  /** Rating column, only read when `minRating` is set. Default: rating/score/stars. */
  rating?: string;
}

export interface LoadOptions {
  /** Input format; `'auto'` (default) detects it from the file name and first line (see `detectFormat`). */
  format?: DataFormat | 'auto';
  /**
   * Field delimiter for `csv` (default: inferred from the header, `,` or `;`), `tsv` (default tab)
   * and `sequence` (default: any whitespace). Ignored by the fixed MovieLens formats.
   */
  delimiter?: string;
  /** Column names for `csv`, `tsv` and `jsonl`. */
  columns?: ColumnOptions;
  /** Keep only interactions rated at least this much (formats with ratings). Default: keep all. */
  minRating?: number;
  /** `'throw'` (default): a malformed line is an error. `'skip'`: count it in `stats.skipped` and go on. */
  onMalformed?: 'throw' | 'skip';
  /**
   * With `onMalformed: 'skip'`: the largest fraction of data lines (non-blank lines after any
   * header) that may be skipped. A file with more malformed lines is refused with a
   * `data_parse` error giving the counts: it is most likely not in the format it was read as.
   * Default `DEFAULT_MAX_SKIP_RATE` (0.1, i.e. 10%); 1 turns the check off.
   */
  maxSkipRate?: number;
  /**
   * `taobao` only: the behaviors to keep (`pv` click, `buy`, `cart`, `fav`). Default `['pv']`,
   * as ComiRec uses clicks only. Other rows are counted in `stats.filtered`.
   */
  behaviors?: readonly TaobaoBehavior[];
}

/** Default `maxSkipRate`: more than 10% malformed lines means the file is not what it seems. */
export const DEFAULT_MAX_SKIP_RATE = 0.1;

export interface ResolvedLoadOptions {
  format: DataFormat | 'auto';
  delimiter: string | undefined;
  columns: ColumnOptions;
  minRating: number | undefined;
  onMalformed: 'throw' | 'skip';
  maxSkipRate: number;
  /** Undefined when the caller did not set it (the `taobao` parser then keeps `pv`). */
  behaviors: readonly TaobaoBehavior[] | undefined;
}

function invalid(field: string, message: string): SeqrecError {
  return new SeqrecError('invalid_argument', `loadInteractions: ${message}`, { field });
}

/** Checks the options a caller passed (they may come from untyped JSON or a CLI). */
export function resolveLoadOptions(options: LoadOptions = {}): ResolvedLoadOptions {
  const format = options.format ?? 'auto';
  if (format !== 'auto' && !DATA_FORMATS.includes(format)) {
    throw invalid('format', `unknown format '${String(format)}' (expected 'auto' or one of ${DATA_FORMATS.join(', ')})`);
  }
  const onMalformed = options.onMalformed ?? 'throw';
  if (onMalformed !== 'throw' && onMalformed !== 'skip') {
    throw invalid('onMalformed', `onMalformed must be 'throw' or 'skip', got '${String(onMalformed)}'`);
  }
  const maxSkipRate = options.maxSkipRate ?? DEFAULT_MAX_SKIP_RATE;
  if (typeof maxSkipRate !== 'number' || !(maxSkipRate >= 0 && maxSkipRate <= 1)) {
    throw invalid('maxSkipRate', `maxSkipRate must be a number in [0, 1], got ${String(maxSkipRate)}`);
  }
  const { delimiter, minRating } = options;
  if (delimiter !== undefined && (typeof delimiter !== 'string' || delimiter === '' || /["\r\n]/.test(delimiter))) {
    throw invalid('delimiter', `delimiter must be a non-empty string without quotes or newlines, got ${JSON.stringify(delimiter)}`);
  }
  if (minRating !== undefined && (typeof minRating !== 'number' || !Number.isFinite(minRating))) {
    throw invalid('minRating', `minRating must be a finite number, got ${String(minRating)}`);
  }
  if (minRating !== undefined && (format === 'sequence' || format === 'session-lines' || format === 'taobao')) {
    throw invalid('minRating', `minRating needs ratings, but the '${format}' format has none`);
  }
  const { behaviors } = options;
  if (behaviors !== undefined) {
    const ok =
      Array.isArray(behaviors) &&
      behaviors.length > 0 &&
      behaviors.every((b) => (TAOBAO_BEHAVIORS as readonly unknown[]).includes(b));
    if (!ok) {
      throw invalid('behaviors', `behaviors must be a non-empty array of ${TAOBAO_BEHAVIORS.join(', ')}, got ${JSON.stringify(behaviors)}`);
    }
    if (format !== 'auto' && format !== 'taobao') {
      throw invalid('behaviors', `behaviors only applies to the 'taobao' format, not '${format}'`);
    }
  }
  const columns = options.columns ?? {};
  for (const role of ['user', 'item', 'time', 'rating'] as const) {
    const name = columns[role];
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      throw invalid(`columns.${role}`, `columns.${role} must be a non-empty string, got ${JSON.stringify(name)}`);
    }
  }
  return { format, delimiter, columns, minRating, onMalformed, maxSkipRate, behaviors };
}
