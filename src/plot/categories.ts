/**
 * Item categories (and display names) for colouring plots, read from:
 * - MovieLens 100K `u.item`: `id|title|release|video release|url|` + 19 genre flags in the
 *   order of `u.genre`. An item's category is its FIRST genre in that order (movies have
 *   several; the first is a fixed, documented choice, not the "main" genre).
 * - MovieLens 1M/10M `movies.dat`: `id::title::Genre1|Genre2`. Category = the first listed genre.
 * - Anything else: `item,category[,name]` lines (comma or tab separated; a first line
 *   `item,category...` is a header and skipped; blank lines and `#` comments are ignored).
 * MovieLens files are Latin-1; they are decoded as such.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { SeqrecError } from '../errors.js';

/** The 19 genres of MovieLens 100K, in `u.genre` order (flag i of `u.item` = GENRES[i]). */
export const ML100K_GENRES = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
] as const;

export interface ItemInfo {
  /** Raw item id -> category. */
  categories: Map<string, string>;
  /** Raw item id -> display name (titles), when the file has them. */
  names: Map<string, string>;
  /** Which reader was used. */
  format: 'movielens-item' | 'movielens-movies' | 'item-category';
}

function fail(path: string, line: number, why: string): never {
  throw new SeqrecError('data_parse', `${path} line ${line}: ${why}`, { file: path, line });
}

/** Detects the format from the file name and first line, and reads categories and names. */
export function parseItemInfo(text: string, path: string): ItemInfo {
  const lines = text.split(/\r?\n/);
  const first = lines.find((l) => l.trim() !== '') ?? '';
  const name = basename(path);
  const fields = first.split('|');
  const isUItem = name === 'u.item' || (fields.length === 24 && fields.slice(5).every((f) => f === '0' || f === '1'));
  const isMoviesDat = name === 'movies.dat' || /^[^:]+::[^:]*::/.test(first);
  const categories = new Map<string, string>();
  const names = new Map<string, string>();
  if (isUItem) {
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const f = line.split('|');
      if (f.length !== 24) fail(path, i + 1, `expected 24 '|'-separated fields (u.item), got ${f.length}`);
      const flags = f.slice(5);
      const g = flags.findIndex((v) => v === '1');
      categories.set(f[0], g >= 0 ? ML100K_GENRES[g] : 'unknown');
      names.set(f[0], f[1]);
    });
    return { categories, names, format: 'movielens-item' };
  }
  if (isMoviesDat) {
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const f = line.split('::');
      if (f.length !== 3) fail(path, i + 1, `expected id::title::genres (movies.dat), got ${f.length} fields`);
      categories.set(f[0], f[2].split('|')[0] || 'unknown');
      names.set(f[0], f[1]);
    });
    return { categories, names, format: 'movielens-movies' };
  }
  const delimiter = first.includes('\t') ? '\t' : ',';
  let header = true;
  lines.forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    const f = t.split(delimiter).map((s) => s.trim());
    if (header) {
      header = false;
      if (/^(item|item_?id|id)$/i.test(f[0]) && /^(category|cat|genre|label)$/i.test(f[1] ?? '')) return;
    }
    if (f.length < 2 || f[0] === '' || f[1] === '') fail(path, i + 1, `expected 'item${delimiter}category[${delimiter}name]'`);
    categories.set(f[0], f[1]);
    if (f[2]) names.set(f[0], f.slice(2).join(delimiter));
  });
  return { categories, names, format: 'item-category' };
}

/** Reads an item file (see the module comment). MovieLens files are decoded as Latin-1. */
export async function readItemInfo(path: string): Promise<ItemInfo> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new SeqrecError('invalid_argument', `cannot read categories file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      file: path,
    });
  }
  // UTF-8 unless it does not decode (MovieLens is Latin-1).
  const utf8 = bytes.toString('utf8');
  const text = utf8.includes('\uFFFD') ? bytes.toString('latin1') : utf8;
  return parseItemInfo(text, path);
}
