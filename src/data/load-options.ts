/**
 * Options of `loadInteractions`, and their schema.
 */
import { z } from 'zod';
import type { ColumnOptions } from './columns.js';
import { checkFormatOptions, DATA_FORMATS, TAOBAO_BEHAVIORS, type DataFormat, type TaobaoBehavior } from './formats/index.js';
import { inRange, parseOptions, shown } from './rules.js';

export type { ColumnOptions } from './columns.js';

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

const columnName = z.custom<string>((v) => typeof v === 'string' && v !== '', {
  error: (iss) => `must be a non-empty string, got ${JSON.stringify(iss.input)}`,
});

const FORMAT_NAMES: readonly string[] = ['auto', ...DATA_FORMATS];

const loadOptionsSchema = z.strictObject({
  format: z
    .custom<DataFormat | 'auto'>((v) => typeof v === 'string' && FORMAT_NAMES.includes(v), {
      error: (iss) => `unknown format ${shown(String(iss.input))} (expected 'auto' or one of ${DATA_FORMATS.join(', ')})`,
    })
    .optional(),
  delimiter: z
    .custom<string>((v) => typeof v === 'string' && v !== '' && !/["\r\n]/.test(v), {
      error: (iss) => `must be a non-empty string without quotes or newlines, got ${JSON.stringify(iss.input)}`,
    })
    .optional(),
  columns: z.strictObject({ user: columnName.optional(), item: columnName.optional(), time: columnName.optional(), rating: columnName.optional() }).optional(),
  minRating: z
    .custom<number>((v) => typeof v === 'number' && Number.isFinite(v), { error: (iss) => `must be a finite number, got ${shown(iss.input)}` })
    .optional(),
  onMalformed: z.enum(['throw', 'skip'], { error: (iss) => `must be 'throw' or 'skip', got ${shown(iss.input)}` }).optional(),
  maxSkipRate: inRange(0, 1).optional(),
  behaviors: z
    .custom<readonly TaobaoBehavior[]>((v) => Array.isArray(v) && v.length > 0 && v.every((b) => (TAOBAO_BEHAVIORS as readonly unknown[]).includes(b)), {
      error: (iss) => `must be a non-empty array of ${TAOBAO_BEHAVIORS.join(', ')}, got ${JSON.stringify(iss.input)}`,
    })
    .optional(),
});

/** Checks the options a caller passed (they may come from untyped JSON or a CLI). */
export function resolveLoadOptions(options: LoadOptions = {}): ResolvedLoadOptions {
  const o = parseOptions(loadOptionsSchema, options, 'loadInteractions', 'invalid_argument');
  const format = o.format ?? 'auto';
  if (format !== 'auto') checkFormatOptions(format, o);
  return {
    format,
    delimiter: o.delimiter,
    columns: o.columns ?? {},
    minRating: o.minRating,
    onMalformed: o.onMalformed ?? 'throw',
    maxSkipRate: o.maxSkipRate ?? DEFAULT_MAX_SKIP_RATE,
    behaviors: o.behaviors,
  };
}
