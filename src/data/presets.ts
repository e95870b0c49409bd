/**
 * Line parsers of the dataset presets: Amazon ratings CSV and reviews JSON, Taobao
 * `UserBehavior.csv` and one-session-per-line logs. (The header form of `session` reuses the
 * CSV parser, in records.ts.)
 */
import { splitDelimited } from './delimited.js';
import { fieldCount, id, jsonId, jsonNumber, num } from './fields.js';
import { isTaobaoHeader, TAOBAO_BEHAVIORS, type TaobaoBehavior } from './formats.js';
import { LineError } from './line-error.js';
import type { ResolvedLoadOptions } from './load-options.js';
import { parseObjectLine } from './python-literal.js';
import type { LineParser, RecordSink } from './records.js';

/** `user,item,rating,timestamp` without a header (McAuley et al.'s `ratings_*.csv`). */
export function amazonCsvParser(options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  const { minRating } = options;
  let first = true;
  return {
    headerConsumed: false,
    parse(line) {
      const isFirst = first;
      first = false;
      try {
        const f = splitDelimited(line, ',');
        fieldCount(f, 4, ',', ' (user,item,rating,timestamp)');
        const user = id(f[0], 'user');
        const item = id(f[1], 'item');
        const rating = num(f[2], 'rating');
        const time = num(f[3], 'timestamp');
        if (minRating !== undefined && rating < minRating) sink.drop();
        else sink.add(user, item, time);
      } catch (e) {
        // The likeliest cause of a bad first line is a header, which this format does not have.
        if (isFirst && e instanceof LineError) {
          throw new LineError(`${e.message} (amazon-csv files have no header row; for a file with one use format 'csv')`, e.field);
        }
        throw e;
      }
    },
  };
}

/** Keys of an Amazon review object (2014 and 2018 releases alike). */
const REVIEW_KEYS = { user: 'reviewerID', item: 'asin', rating: 'overall', time: 'unixReviewTime' } as const;

/** One review object per line: strict JSON, or a Python dict literal as in some 2014 dumps. */
export function amazonJsonParser(options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  const { minRating } = options;
  return {
    headerConsumed: false,
    parse(line) {
      let obj: Record<string, unknown>;
      try {
        obj = parseObjectLine(line);
      } catch (e) {
        throw new LineError((e as Error).message);
      }
      const user = jsonId(obj[REVIEW_KEYS.user], REVIEW_KEYS.user, 'user');
      const item = jsonId(obj[REVIEW_KEYS.item], REVIEW_KEYS.item, 'item');
      const rating = jsonNumber(obj[REVIEW_KEYS.rating], REVIEW_KEYS.rating, 'rating');
      const time = jsonNumber(obj[REVIEW_KEYS.time], REVIEW_KEYS.time, 'timestamp');
      if (minRating !== undefined && rating < minRating) sink.drop();
      else sink.add(user, item, time);
    },
  };
}

/** `user_id,item_id,category_id,behavior_type,timestamp`, no header (an exact header line is skipped). */
export function taobaoParser(firstLine: string, options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  const keep = new Set<string>(options.behaviors ?? ['pv']);
  const known = new Set<string>(TAOBAO_BEHAVIORS);
  return {
    headerConsumed: isTaobaoHeader(firstLine.trim()),
    parse(line) {
      const f = splitDelimited(line, ',');
      fieldCount(f, 5, ',', ' (user,item,category,behavior,timestamp)');
      const user = id(f[0], 'user');
      const item = id(f[1], 'item');
      const category = id(f[2], 'category');
      const behavior = f[3].trim();
      if (!known.has(behavior)) {
        throw new LineError(`behavior '${behavior}' is not one of ${TAOBAO_BEHAVIORS.join(', ')}`, 'behavior');
      }
      const time = num(f[4], 'timestamp');
      if (keep.has(behavior as TaobaoBehavior)) sink.add(user, item, time, category);
      else sink.drop();
    },
  };
}

/**
 * `session item1 item2 ...`, one session per line in click order. Unlike `sequence`, a session
 * id on a second line is malformed: it usually means two files with overlapping ids were joined.
 */
export function sessionLinesParser(options: ResolvedLoadOptions, sink: RecordSink): LineParser {
  const { delimiter } = options;
  const seen = new Map<string, number>();
  return {
    headerConsumed: false,
    parse(line, lineNumber) {
      const tokens = delimiter === undefined ? line.trim().split(/\s+/) : line.split(delimiter).map((t) => t.trim());
      if (tokens.length < 2) throw new LineError('expected a session id followed by at least one item, got 1 field', 'item');
      const session = id(tokens[0], 'session');
      const items = tokens.slice(1).map((t) => id(t, 'item'));
      const earlier = seen.get(session);
      if (earlier !== undefined) {
        throw new LineError(`session '${session}' already appeared on line ${earlier} (one line per session)`, 'session');
      }
      seen.set(session, lineNumber);
      for (const item of items) sink.add(session, item, undefined);
    },
  };
}
