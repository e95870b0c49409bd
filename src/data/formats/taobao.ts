/**
 * Taobao `UserBehavior.csv` (Alibaba, as used by ComiRec): `user,item,category,behavior,timestamp`.
 */
import { splitDelimited } from '../delimited.js';
import { fieldCount, id, num } from '../fields.js';
import { LineError } from '../line-error.js';
import { normalizeName } from '../names.js';
import type { ParserFactory } from './parser.js';

/** Taobao `behavior_type` values: page view (click), purchase, add to cart, favorite. */
export const TAOBAO_BEHAVIORS = ['pv', 'buy', 'cart', 'fav'] as const;
export type TaobaoBehavior = (typeof TAOBAO_BEHAVIORS)[number];

/** The optional header some copies of `UserBehavior.csv` carry. */
export function isTaobaoHeader(line: string): boolean {
  return line.split(',').map(normalizeName).join(',') === 'userid,itemid,categoryid,behaviortype,timestamp';
}

/** `1,2268318,2520377,pv,1511544070`: three integer ids, a behavior, an integer time. */
export function isTaobaoRow(line: string): boolean {
  const f = line.split(',');
  return (
    f.length === 5 &&
    /^\d+$/.test(f[0]) &&
    /^\d+$/.test(f[1]) &&
    /^\d+$/.test(f[2]) &&
    (TAOBAO_BEHAVIORS as readonly string[]).includes(f[3]) &&
    /^-?\d+$/.test(f[4])
  );
}

/** No header (an exact header line is skipped); keeps `options.behaviors`, default clicks (`pv`) as ComiRec does. */
export const taobaoParser: ParserFactory = (firstLine, options, sink) => {
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
      if (keep.has(behavior)) sink.add(user, item, time, category);
      else sink.drop();
    },
  };
};
