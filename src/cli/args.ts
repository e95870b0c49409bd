/** Small helpers for turning CLI flag strings into typed, validated values. */
import { SeqrecError } from '../errors.js';

export function intFlag(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new SeqrecError('invalid_argument', `--${name} must be an integer >= ${min}, got '${value}'`, { field: name });
  return n;
}

export function floatFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new SeqrecError('invalid_argument', `--${name} must be a number, got '${value}'`, { field: name });
  return n;
}

export function choiceFlag<T extends string>(value: string | undefined, name: string, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new SeqrecError('invalid_argument', `--${name} must be one of ${choices.join(', ')}, got '${value}'`, { field: name });
  }
  return value as T;
}

export function requireFlag(value: string | undefined, name: string, command: string): string {
  if (value === undefined || value === '') throw new SeqrecError('invalid_argument', `seqrec ${command}: --${name} is required`, { field: name });
  return value;
}

/** Formats a metric table: rows = runs, columns = metric keys. */
export function metricTable(rows: { name: string; report: Record<string, number> }[], keys: string[]): string {
  const header = ['', ...keys];
  const lines = rows.map((r) => [r.name, ...keys.map((k) => (r.report[k] === undefined ? '-' : r.report[k].toFixed(4)))]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), ...lines.map(fmt)].join('\n');
}
