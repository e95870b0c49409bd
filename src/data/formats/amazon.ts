/**
 * The Amazon review datasets (McAuley et al.): the ratings CSV (`ratings_Books.csv`, no
 * header) and the review objects of the 2014/2018 releases.
 */
import { splitDelimited } from '../delimited.js';
import { fieldCount, isNumeric, jsonId, jsonNumber } from '../fields.js';
import { LineError } from '../line-error.js';
import { parseObjectLine } from '../python-literal.js';
import { addRatingRow, type ParserFactory } from './parser.js';

/**
 * `A2IIIDRK3PRRZY,0000000116,1.0,1395619200`: two ids, a rating in [0, 10] and an integer
 * Unix time of at least 9 digits (1973 on). Strict, so short comma-separated sequence lines
 * such as `1,2,3,4` do not look like ratings.
 */
export function isAmazonCsvRow(line: string): boolean {
  const f = line.split(',');
  if (f.length !== 4 || f[0].trim() === '' || f[1].trim() === '') return false;
  const rating = f[2].trim();
  return isNumeric(rating) && Number(rating) >= 0 && Number(rating) <= 10 && /^\d{9,}$/.test(f[3].trim());
}

/** A first object with both `reviewerID` and `asin` (strict JSON or a Python dict literal). */
export function isAmazonReview(line: string): boolean {
  if (!line.includes('reviewerID') || !line.includes('asin')) return false;
  try {
    const obj = parseObjectLine(line);
    return Object.hasOwn(obj, 'reviewerID') && Object.hasOwn(obj, 'asin');
  } catch {
    return false;
  }
}

/** `user,item,rating,timestamp` without a header. */
export const amazonCsvParser: ParserFactory = (_firstLine, options, sink) => {
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
        addRatingRow(f, minRating, sink);
      } catch (e) {
        // The likeliest cause of a bad first line is a header, which this format does not have.
        if (isFirst && e instanceof LineError) {
          throw new LineError(`${e.message} (amazon-csv files have no header row; for a file with one use format 'csv')`, e.field);
        }
        throw e;
      }
    },
  };
};

/** Keys of an Amazon review object (2014 and 2018 releases alike). */
const REVIEW_KEYS = { user: 'reviewerID', item: 'asin', rating: 'overall', time: 'unixReviewTime' } as const;

/** One review object per line: strict JSON, or a Python dict literal as in some 2014 dumps. */
export const amazonJsonParser: ParserFactory = (_firstLine, options, sink) => {
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
};
