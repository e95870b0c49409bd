/**
 * `jsonl`: one JSON object per line; the keys are resolved from the first object like a header.
 */
import { resolveColumns, type ColumnIndices } from '../columns.js';
import { jsonId, jsonNumber } from '../fields.js';
import { LineError } from '../line-error.js';
import type { ParserFactory } from './parser.js';

export const jsonlParser: ParserFactory = (_firstLine, options, sink) => {
  const { minRating } = options;
  let keys: { names: string[]; col: ColumnIndices } | undefined;
  return {
    headerConsumed: false,
    parse(line) {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (e) {
        throw new LineError(`invalid JSON (${(e as Error).message})`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new LineError('expected a JSON object');
      }
      const obj = value as Record<string, unknown>;
      if (!keys) {
        // Explicitly named keys count as present: a line lacking one is then that line's problem.
        const explicit = Object.values(options.columns).filter((k): k is string => typeof k === 'string');
        const names = [...new Set([...Object.keys(obj), ...explicit])];
        keys = { names, col: resolveColumns(names, options.columns, minRating !== undefined) };
      }
      const key = (role: keyof ColumnIndices): string => keys!.names[keys!.col[role]];
      const user = jsonId(obj[key('user')], key('user'), 'user');
      const item = jsonId(obj[key('item')], key('item'), 'item');
      const time = keys.col.time >= 0 ? jsonNumber(obj[key('time')], key('time'), 'timestamp') : undefined;
      if (minRating !== undefined && jsonNumber(obj[key('rating')], key('rating'), 'rating') < minRating) sink.drop();
      else sink.add(user, item, time);
    },
  };
};
