/**
 * The three MovieLens layouts, `user, item, rating, timestamp` with a fixed delimiter:
 * `ratings.dat` (`::`), 100K's `u.data` (tabs) and `ratings.csv` (commas, with a header).
 */
import { splitDelimited } from '../delimited.js';
import { fieldCount, isNumeric } from '../fields.js';
import { LineError } from '../line-error.js';
import { normalizeName } from '../names.js';
import { addRatingRow, repeatedHeaderMessage, repeatsHeader, type ParserFactory } from './parser.js';

export type MovielensFormat = 'movielens-dat' | 'movielens-udata' | 'movielens-csv';

const DELIMITERS: Record<MovielensFormat, string> = { 'movielens-dat': '::', 'movielens-udata': '\t', 'movielens-csv': ',' };

export function isMovielensCsvHeader(line: string): boolean {
  return line.split(',').map(normalizeName).join(',') === 'userid,movieid,rating,timestamp';
}

/** `196\t242\t3\t881250949`: four tab-separated numbers. */
export function isUdataRow(line: string): boolean {
  const fields = line.split('\t');
  return fields.length === 4 && fields.every(isNumeric);
}

export function movielensParser(format: MovielensFormat): ParserFactory {
  const delimiter = DELIMITERS[format];
  const split = (line: string): string[] => (format === 'movielens-csv' ? splitDelimited(line, ',') : line.trim().split(delimiter));
  return (firstLine, options, sink) => {
    // ratings.csv has a header; a file without one must not lose its first row.
    let headerConsumed = false;
    if (format === 'movielens-csv') {
      const first = split(firstLine);
      headerConsumed = first.length < 3 || !isNumeric(first[2]);
    }
    const { minRating } = options;
    return {
      headerConsumed,
      parse(line) {
        const f = split(line);
        if (headerConsumed && repeatsHeader(f, split(firstLine))) throw new LineError(repeatedHeaderMessage(firstLine));
        fieldCount(f, 4, delimiter);
        addRatingRow(f, minRating, sink);
      },
    };
  };
}
