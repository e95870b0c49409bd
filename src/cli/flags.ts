/**
 * CLI flags as data: each flag is a help text plus a zod schema that turns the raw string
 * (or boolean, or list) into a typed value. A command's flag table gives its commander options
 * (src/cli/program.ts), its `--help`, and the inferred type of its parsed options, so the help,
 * the validation and the types cannot drift apart.
 */
import { z } from 'zod';
import { SeqrecError } from '../errors.js';
import { didYouMean } from '../util/schema.js';

/** A raw flag value as commander (or `node:util` parseArgs) gives it. */
export type RawValue = string | boolean | readonly string[] | undefined;

export interface Flag<T = unknown> {
  /** 'value': `--x VALUE`; 'boolean': `--x`; 'list': `--x VALUE`, repeatable. */
  readonly kind: 'value' | 'boolean' | 'list';
  /** The value's name in the help: `--epochs <n>`. */
  readonly placeholder: string;
  readonly description: string;
  readonly schema: z.ZodType<T>;
}

export type FlagTable = Readonly<Record<string, Flag>>;

/** The parsed options of a flag table: keys as in the table (camelCase), types from the schemas. */
export type FlagValues<T extends FlagTable> = { [K in keyof T]: T[K] extends Flag<infer V> ? V : never };

/** Flags keyed by their command-line name (`max-len`), as `node:util` parseArgs gives them. */
export type StringFlags = Readonly<Record<string, RawValue>>;

/** `maxLen` -> `max-len`: the table key is the attribute name commander derives from the flag. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

const withDefault = (description: string, fallback: unknown): string =>
  fallback === undefined ? description : `${description} (default: ${String(fallback)})`;

/** A value that is not what the flag takes: the message is completed with the flag's name. */
function reject(ctx: z.RefinementCtx, message: string): never {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

function numberFlag(
  description: string,
  options: { min?: number; max?: number; default?: number; placeholder?: string; integer: boolean },
): Flag<number | undefined> {
  const { min, max, integer } = options;
  const what = `${integer ? 'an integer' : 'a number'}${min !== undefined ? ` >= ${min}` : ''}${max !== undefined ? ` and <= ${max}` : ''}`;
  const schema = z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return options.default;
      const n = Number(v);
      const ok = v.trim() !== '' && (integer ? Number.isInteger(n) : Number.isFinite(n)) && (min === undefined || n >= min) && (max === undefined || n <= max);
      return ok ? n : reject(ctx, `must be ${what}, got '${v}'`);
    });
  return { kind: 'value', placeholder: options.placeholder ?? (integer ? 'n' : 'x'), description: withDefault(description, options.default), schema };
}

/** An integer flag; absent = `default` (or undefined). */
export function int(description: string, options: { min?: number; max?: number; default: number; placeholder?: string }): Flag<number>;
export function int(description: string, options?: { min?: number; max?: number; placeholder?: string }): Flag<number | undefined>;
export function int(description: string, options: { min?: number; max?: number; default?: number; placeholder?: string } = {}): Flag<number | undefined> {
  return numberFlag(description, { ...options, integer: true });
}

/** A finite number flag; absent = `default` (or undefined). */
export function num(description: string, options: { min?: number; default: number; placeholder?: string }): Flag<number>;
export function num(description: string, options?: { min?: number; placeholder?: string }): Flag<number | undefined>;
export function num(description: string, options: { min?: number; default?: number; placeholder?: string } = {}): Flag<number | undefined> {
  return numberFlag(description, { ...options, integer: false });
}

/** One of `choices`; absent = `default` (or undefined). The help lists every choice. */
export function choice<const C extends readonly string[]>(
  choices: C,
  description: string,
  options: { default: C[number]; placeholder?: string },
): Flag<C[number]>;
export function choice<const C extends readonly string[]>(choices: C, description: string, options?: { placeholder?: string }): Flag<C[number] | undefined>;
export function choice<const C extends readonly string[]>(
  choices: C,
  description: string,
  options: { default?: C[number]; placeholder?: string } = {},
): Flag<C[number] | undefined> {
  const schema = z
    .string()
    .optional()
    .transform((v, ctx): C[number] | undefined => {
      if (v === undefined) return options.default;
      if ((choices as readonly string[]).includes(v)) return v;
      return reject(ctx, `must be one of ${choices.join(', ')}, got '${v}'${didYouMean(v, choices)}`);
    });
  const placeholder = options.placeholder ?? choices.join('|');
  return { kind: 'value', placeholder, description: withDefault(`${description}: ${choices.join(', ')}`, options.default), schema };
}

/** A string flag; `required` ones fail when absent or empty. */
export function str(description: string, options: { required: true; placeholder?: string }): Flag<string>;
export function str(description: string, options: { default: string; placeholder?: string }): Flag<string>;
export function str(description: string, options?: { placeholder?: string }): Flag<string | undefined>;
export function str(description: string, options: { required?: boolean; default?: string; placeholder?: string } = {}): Flag<string | undefined> {
  const schema = z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (options.required && (v === undefined || v === '')) return reject(ctx, 'is required');
      return v ?? options.default;
    });
  return {
    kind: 'value',
    placeholder: options.placeholder ?? 'value',
    description: withDefault(options.required ? `${description} (required)` : description, options.default),
    schema,
  };
}

/** A switch: true when given. */
export function bool(description: string): Flag<boolean> {
  return {
    kind: 'boolean',
    placeholder: '',
    description,
    schema: z
      .boolean()
      .optional()
      .transform((v) => v ?? false),
  };
}

/** A comma list of integers >= `min` (`--segments 5,10,20`); absent = undefined. */
export function intList(description: string, options: { min?: number; placeholder?: string } = {}): Flag<number[] | undefined> {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const schema = z
    .string()
    .optional()
    .transform((v, ctx): number[] | undefined => {
      if (v === undefined) return undefined;
      const parts = v.split(',').map((p) => p.trim());
      const bad = parts.find((p) => !/^-?\d+$/.test(p) || Number(p) < min);
      if (bad !== undefined) return reject(ctx, `must be a comma list of integers${min > Number.MIN_SAFE_INTEGER ? ` >= ${min}` : ''}, got '${v}' ('${bad}')`);
      return parts.map(Number);
    });
  return { kind: 'value', placeholder: options.placeholder ?? 'n,n,...', description, schema };
}

/** A repeatable string flag: every occurrence, in order. */
export function list(description: string, placeholder = 'value'): Flag<string[]> {
  const schema = z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : typeof v === 'string' ? [v] : [...v]));
  return { kind: 'list', placeholder, description: `${description} (repeatable)`, schema };
}

/**
 * The parsed options of `table` from raw values keyed like the table (camelCase), or a
 * `SeqrecError` naming the flag: "--epochs must be an integer >= 1, got '0'".
 */
export function parseFlags<T extends FlagTable>(table: T, raw: Readonly<Record<string, RawValue>>): FlagValues<T> {
  const shape = Object.fromEntries(Object.entries(table).map(([key, flag]) => [key, flag.schema]));
  const parsed = z.object(shape).safeParse(raw);
  if (parsed.success) return parsed.data as FlagValues<T>;
  const issue = parsed.error.issues[0];
  const field = kebab(String(issue.path[0] ?? ''));
  const message = issue.code === 'custom' ? `--${field} ${issue.message}` : `--${field}: ${issue.message}`;
  throw new SeqrecError('invalid_argument', message, { field });
}

/**
 * `parseFlags` for flags keyed by their command-line names (`{ 'max-len': '20' }`), as scripts
 * that call a command directly pass them; a name the table lacks is an error with a hint.
 */
export function parseStringFlags<T extends FlagTable>(table: T, flags: StringFlags, command: string): FlagValues<T> {
  const raw: Record<string, RawValue> = {};
  for (const [name, value] of Object.entries(flags)) {
    if (!Object.hasOwn(table, camel(name))) throw unknownFlag(name, command, table);
    raw[camel(name)] = value;
  }
  return parseFlags(table, raw);
}

/** The command-line names of a table's flags (`--max-len`). */
export function flagNames(table: FlagTable): string[] {
  return Object.keys(table).map((key) => `--${kebab(key)}`);
}

/**
 * "unknown flag --epoch (did you mean '--epochs'?)", or, for a flag of other commands,
 * "--parallelism is a flag of seqrec bench, not of seqrec train"; both point to the help.
 */
export function unknownFlag(name: string, command: string, table: FlagTable, elsewhere: readonly string[] = []): SeqrecError {
  const flag = `--${name}`;
  const help = `seqrec ${command} --help lists its flags`;
  const hint = didYouMean(flag, [...flagNames(table), '--help']);
  const message =
    elsewhere.length && !hint
      ? `${flag} is not a flag of seqrec ${command} (it belongs to ${elsewhere.join(', ')}); ${help}`
      : `unknown flag ${flag}${hint}; ${help}`;
  return new SeqrecError('invalid_argument', message, { field: name });
}
